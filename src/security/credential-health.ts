import type { Logger } from 'pino';
import { describeError, type CredentialService } from '../errors.js';

/** Told by a client when the other side accepts the relay's credentials, and when it refuses them. */
export interface CredentialObserver {
  accepted(): void;
  refused(error: unknown): void;
}

/** What the operator must fix, per side: the settings, named as the operator sets them. */
export type CredentialAdvice = Readonly<Record<CredentialService, string>>;

export interface CredentialHealthOptions {
  readonly logger: Logger;
  readonly advice: CredentialAdvice;
  /** Each refusal, counted. */
  readonly onRefused?: (service: CredentialService) => void;
  /** The side's state changed: refused (true) or accepted again (false). */
  readonly onState?: (service: CredentialService, refused: boolean) => void;
  /** While still refused, the error is logged again this often. Default: 10 minutes. */
  readonly remindEveryMs?: number;
  readonly now?: () => number;
}

interface Refusal {
  readonly since: number;
  lastLoggedAt: number;
  count: number;
}

// Never "bearer" before a word: the logger blanks whatever follows it as a token.
const NAMES: Readonly<Record<CredentialService, string>> = {
  keycloak: "Keycloak refused the relay's client credentials",
  scim: "the SCIM target refused the relay's token (HTTP 401)",
};

/**
 * Whether Keycloak and the SCIM target accept the relay's credentials. A refusal is logged
 * once, as an error that names the settings to fix, then again only every `remindEveryMs` while
 * it lasts, and once more, as info, when the credentials work again: every request refused
 * during an outage would otherwise log a line of its own. `/readyz` is not ready while either
 * side refuses (see {@link probe}).
 */
export class CredentialHealth {
  private readonly refusals = new Map<CredentialService, Refusal>();
  private readonly remindEveryMs: number;
  private readonly now: () => number;

  constructor(private readonly options: CredentialHealthOptions) {
    this.remindEveryMs = options.remindEveryMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The observer a client of `service` reports to. */
  observer(service: CredentialService): CredentialObserver {
    return {
      accepted: () => {
        this.accepted(service);
      },
      refused: (error) => {
        this.refused(service, error);
      },
    };
  }

  refused(service: CredentialService, error: unknown): void {
    this.options.onRefused?.(service);
    const now = this.now();
    const known = this.refusals.get(service);
    if (known !== undefined) {
      known.count += 1;
      if (now - known.lastLoggedAt < this.remindEveryMs) return;
      known.lastLoggedAt = now;
      this.options.logger.error(
        {
          service,
          refusedSinceSeconds: Math.round((now - known.since) / 1000),
          refusals: known.count,
          error: describeError(error),
        },
        `${NAMES[service]} still, since ${new Date(known.since).toISOString()}: ${this.options.advice[service]}; changes are held and retried until then`,
      );
      return;
    }
    this.refusals.set(service, { since: now, lastLoggedAt: now, count: 1 });
    this.options.onState?.(service, true);
    this.options.logger.error(
      { service, error: describeError(error) },
      `${NAMES[service]}: ${this.options.advice[service]}; changes are held and retried until then, and /readyz answers 503`,
    );
  }

  accepted(service: CredentialService): void {
    const known = this.refusals.get(service);
    if (known === undefined) return;
    this.refusals.delete(service);
    this.options.onState?.(service, false);
    this.options.logger.info(
      {
        service,
        refusedForSeconds: Math.round((this.now() - known.since) / 1000),
        refusals: known.count,
      },
      `${service === 'keycloak' ? 'Keycloak' : 'the SCIM target'} accepts the relay's credentials again; held changes resume`,
    );
  }

  isRefused(service: CredentialService): boolean {
    return this.refusals.has(service);
  }

  /** The readiness probe: failing, and saying what to fix, while either side refuses. */
  probe(): { ok: boolean; detail?: string } {
    const refused = [...this.refusals.keys()];
    if (refused.length === 0) return { ok: true };
    return {
      ok: false,
      detail: refused
        .map((service) => `${NAMES[service]}: ${this.options.advice[service]}`)
        .join('; '),
    };
  }
}
