import { describe, expect, it } from 'vitest';
import { CredentialsRefusedError, ScimError, type CredentialService } from '../../src/errors.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { CredentialHealth } from '../../src/security/credential-health.js';

const advice = {
  keycloak:
    'write the current secret of client "scim-relay" (KEYCLOAK_CLIENT_ID) to the file KEYCLOAK_CLIENT_SECRET_FILE names',
  scim: 'set SCIM_TOKEN to the integration’s current Secret Token and restart the relay',
};

function watched(remindEveryMs = 60_000) {
  const log = memoryDestination();
  let now = 1_000_000;
  const refusals: CredentialService[] = [];
  const states: [CredentialService, boolean][] = [];
  const health = new CredentialHealth({
    logger: createLogger({ level: 'debug', secrets: [], destination: log }),
    advice,
    onRefused: (service) => refusals.push(service),
    onState: (service, refused) => states.push([service, refused]),
    remindEveryMs,
    now: () => now,
  });
  return {
    health,
    log,
    refusals,
    states,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const refusedLogin = () =>
  new CredentialsRefusedError('Keycloak token request failed with HTTP 401');

describe('CredentialHealth', () => {
  it('logs one actionable error for many refusals, counts each, and is not ready meanwhile', () => {
    const { health, log, refusals, states } = watched();
    for (let i = 0; i < 50; i++) health.observer('keycloak').refused(refusedLogin());
    expect(refusals).toHaveLength(50);
    expect(states).toEqual([['keycloak', true]]);
    const errors = log.records().filter((record) => record['level'] === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.['msg']).toContain('KEYCLOAK_CLIENT_SECRET_FILE');
    expect(errors[0]?.['msg']).toContain('KEYCLOAK_CLIENT_ID');
    expect(errors[0]?.['msg']).toContain('/readyz answers 503');
    expect(health.isRefused('keycloak')).toBe(true);
    expect(health.isRefused('scim')).toBe(false);
    const probe = health.probe();
    expect(probe.ok).toBe(false);
    expect(probe.detail).toContain('KEYCLOAK_CLIENT_SECRET_FILE');
  });

  it('reminds at the slow interval while the refusal lasts, and says when it ends', () => {
    const { health, log, states, advance } = watched(60_000);
    health.refused('scim', new ScimError({ status: 401, operation: 'POST /Users' }));
    advance(30_000);
    health.refused('scim', new ScimError({ status: 401, operation: 'POST /Users' }));
    advance(31_000);
    health.refused('scim', new ScimError({ status: 401, operation: 'POST /Users' }));
    const errors = log.records().filter((record) => record['level'] === 'error');
    expect(errors).toHaveLength(2);
    expect(errors[1]).toMatchObject({ service: 'scim', refusals: 3, refusedSinceSeconds: 61 });
    expect(errors[1]?.['msg']).toContain('SCIM_TOKEN');
    // Read as written: nothing in the line looks like a token to the logger's redaction.
    expect(errors[0]?.['msg']).toContain("the SCIM target refused the relay's token (HTTP 401)");
    expect(errors[0]?.['msg']).not.toContain('[REDACTED]');

    health.accepted('scim');
    health.accepted('scim');
    expect(states).toEqual([
      ['scim', true],
      ['scim', false],
    ]);
    const infos = log.records().filter((record) => record['level'] === 'info');
    expect(infos).toHaveLength(1);
    expect(infos[0]?.['msg']).toMatch(/accepts the relay's credentials again/);
    expect(health.probe()).toEqual({ ok: true });
  });

  it('says nothing while credentials are accepted', () => {
    const { health, log, states } = watched();
    health.accepted('keycloak');
    health.accepted('scim');
    expect(log.lines).toHaveLength(0);
    expect(states).toHaveLength(0);
    expect(health.probe()).toEqual({ ok: true });
  });
});
