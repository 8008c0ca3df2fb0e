import type { ScimClientHooks } from '../scim/scim-client.js';
import type { AmqpSourceHooks } from '../sources/amqp-source.js';
import type { WorkQueueHooks } from '../sync/work-queue.js';
import type { RelayMetrics } from './relay-metrics.js';

/**
 * The hooks that feed {@link RelayMetrics} from the parts that already report events, so that
 * wiring metrics in is a spread into each part's hooks rather than code at every call site.
 */

/** Applied and parked reconciles with their kind and duration, and reconcile retries. */
export function workQueueMetricsHooks(
  metrics: RelayMetrics,
): Required<Pick<WorkQueueHooks, 'onApplied' | 'onParked' | 'onRetry'>> {
  return {
    onApplied: (hint, durationMs) => {
      metrics.applied(hint.kind, durationMs / 1000);
    },
    onParked: (hint) => {
      metrics.failed(hint.kind);
    },
    onRetry: () => {
      metrics.retry('reconcile');
    },
  };
}

/** Every SCIM answer by method and status, and request retries. */
export function scimClientMetricsHooks(
  metrics: RelayMetrics,
): Required<Pick<ScimClientHooks, 'onResponse' | 'onRetry'>> {
  return {
    onResponse: (method, status) => {
      metrics.scimResponse(method, status);
    },
    onRetry: () => {
      metrics.retry('request');
    },
  };
}

/** Messages received by kind, and messages dead-lettered. */
export function amqpSourceMetricsHooks(
  metrics: RelayMetrics,
): Required<Pick<AmqpSourceHooks, 'onReceived' | 'onDeadLettered'>> {
  return {
    onReceived: (kind) => {
      metrics.eventReceived(kind);
    },
    onDeadLettered: () => {
      metrics.deadLettered();
    },
  };
}
