import { describe, expect, it } from 'vitest';
import { Counter } from '../../src/metrics/counter.js';
import {
  escapeHelp,
  escapeLabelValue,
  formatLabels,
  formatValue,
} from '../../src/metrics/exposition.js';
import { Gauge } from '../../src/metrics/gauge.js';
import { Histogram } from '../../src/metrics/histogram.js';
import { MetricsRegistry } from '../../src/metrics/registry.js';

describe('exposition escaping', () => {
  it('escapes backslash, double quote and newline in label values', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(formatLabels([['path', 'C:\\tmp "x"\n']])).toBe('{path="C:\\\\tmp \\"x\\"\\n"}');
  });

  it('escapes backslash and newline in HELP text but keeps double quotes', () => {
    expect(escapeHelp('say "hi"\\now\nthen')).toBe('say "hi"\\\\now\\nthen');
  });

  it('writes infinities and NaN as Prometheus spells them', () => {
    expect([Infinity, -Infinity, NaN, 0, 1.5, 1e-7].map(formatValue)).toEqual([
      '+Inf',
      '-Inf',
      'NaN',
      '0',
      '1.5',
      '1e-7',
    ]);
  });

  it('writes no braces for a series without labels', () => {
    expect(formatLabels([])).toBe('');
  });
});

describe('Counter', () => {
  it('starts an unlabelled counter at 0 and counts up', () => {
    const counter = new Counter({ name: 'x_total', help: 'Things.', labelNames: [] });
    expect(counter.render()).toEqual([
      '# HELP x_total Things.',
      '# TYPE x_total counter',
      'x_total 0',
    ]);
    counter.inc({});
    counter.inc({}, 2.5);
    expect(counter.render().at(-1)).toBe('x_total 3.5');
  });

  it('keeps one series per label set, in the order they first appeared, escaping values', () => {
    const counter = new Counter({ name: 'y_total', help: 'H.', labelNames: ['method', 'status'] });
    counter.inc({ method: 'POST', status: '201' });
    counter.inc({ method: 'GET', status: '200' });
    counter.inc({ method: 'POST', status: '201' });
    counter.inc({ method: 'we"ird\n', status: '500' });
    expect(counter.render()).toEqual([
      '# HELP y_total H.',
      '# TYPE y_total counter',
      'y_total{method="POST",status="201"} 2',
      'y_total{method="GET",status="200"} 1',
      'y_total{method="we\\"ird\\n",status="500"} 1',
    ]);
  });

  it('refuses to go down, to add NaN, or to take labels it does not have', () => {
    const counter = new Counter({ name: 'z_total', help: 'H.', labelNames: ['kind'] });
    expect(() => {
      counter.inc({ kind: 'a' }, -1);
    }).toThrow(/z_total.*-1/);
    expect(() => {
      counter.inc({ kind: 'a' }, NaN);
    }).toThrow(/z_total/);
    expect(() => {
      counter.inc({ kind: 'a', other: 'b' } as { kind: string });
    }).toThrow(/"other"/);
    expect(() => {
      counter.inc({} as { kind: string });
    }).toThrow(/label "kind"/);
  });

  it('refuses invalid metric and label names at construction', () => {
    expect(() => new Counter({ name: '1bad', help: '', labelNames: [] })).toThrow(/"1bad"/);
    expect(() => new Counter({ name: 'ok', help: '', labelNames: ['bad-label'] })).toThrow(
      /"bad-label"/,
    );
    expect(() => new Counter({ name: 'ok', help: '', labelNames: ['__reserved'] })).toThrow(
      /"__reserved"/,
    );
    expect(() => new Counter({ name: 'ok', help: '', labelNames: ['a', 'a'] })).toThrow(/"a"/);
  });
});

describe('Gauge', () => {
  it('has no sample until set, then the last value set', () => {
    const gauge = new Gauge({ name: 'g', help: 'A level.', labelNames: [] });
    expect(gauge.render()).toEqual(['# HELP g A level.', '# TYPE g gauge']);
    gauge.set({}, 7);
    gauge.set({}, 3);
    expect(gauge.render()).toEqual(['# HELP g A level.', '# TYPE g gauge', 'g 3']);
  });
});

describe('Histogram', () => {
  it('renders cumulative buckets, +Inf equal to _count, _sum and _count', () => {
    const histogram = new Histogram({
      name: 'h_seconds',
      help: 'Durations.',
      labelNames: ['kind'],
      buckets: [0.1, 1, 10],
    });
    for (const value of [0.05, 0.1, 0.5, 2, 100]) histogram.observe({ kind: 'user' }, value);
    expect(histogram.render()).toEqual([
      '# HELP h_seconds Durations.',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{kind="user",le="0.1"} 2',
      'h_seconds_bucket{kind="user",le="1"} 3',
      'h_seconds_bucket{kind="user",le="10"} 4',
      'h_seconds_bucket{kind="user",le="+Inf"} 5',
      'h_seconds_sum{kind="user"} 102.65',
      'h_seconds_count{kind="user"} 5',
    ]);
  });

  it('renders an initialised series with empty buckets, and an unlabelled one from the start', () => {
    const labelled = new Histogram({ name: 'a', help: 'A.', labelNames: ['k'], buckets: [1] });
    labelled.init({ k: 'x' });
    expect(labelled.render().slice(2)).toEqual([
      'a_bucket{k="x",le="1"} 0',
      'a_bucket{k="x",le="+Inf"} 0',
      'a_sum{k="x"} 0',
      'a_count{k="x"} 0',
    ]);
    const bare = new Histogram({ name: 'b', help: 'B.', labelNames: [], buckets: [1] });
    expect(bare.render().slice(2)).toEqual([
      'b_bucket{le="1"} 0',
      'b_bucket{le="+Inf"} 0',
      'b_sum 0',
      'b_count 0',
    ]);
  });

  it('refuses buckets that are empty, unordered or infinite, an "le" label, and NaN', () => {
    const make =
      (buckets: number[], labelNames: string[] = []) =>
      () =>
        new Histogram({ name: 'h', help: '', labelNames, buckets });
    expect(make([])).toThrow(/no buckets/);
    expect(make([1, 1])).toThrow(/strictly increasing/);
    expect(make([2, 1])).toThrow(/strictly increasing/);
    expect(make([1, Infinity])).toThrow(/finite/);
    expect(make([1], ['le'])).toThrow(/"le"/);
    const histogram = new Histogram({ name: 'h', help: '', labelNames: [], buckets: [1] });
    expect(() => {
      histogram.observe({}, NaN);
    }).toThrow(/NaN/);
  });
});

describe('MetricsRegistry', () => {
  it('renders families in registration order, one line each, ending with a newline', () => {
    const registry = new MetricsRegistry();
    registry.register(new Gauge({ name: 'second', help: 'S.', labelNames: [] })).set({}, 1);
    registry.register(new Counter({ name: 'first_total', help: 'F.', labelNames: [] }));
    expect(registry.render()).toBe(
      [
        '# HELP second S.',
        '# TYPE second gauge',
        'second 1',
        '# HELP first_total F.',
        '# TYPE first_total counter',
        'first_total 0',
        '',
      ].join('\n'),
    );
  });

  it('renders nothing when empty, and refuses a name registered twice', () => {
    const registry = new MetricsRegistry();
    expect(registry.render()).toBe('');
    registry.register(new Counter({ name: 'n_total', help: '', labelNames: [] }));
    expect(() =>
      registry.register(new Counter({ name: 'n_total', help: '', labelNames: [] })),
    ).toThrow(/n_total is registered twice/);
  });
});
