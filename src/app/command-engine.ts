import pino from 'pino';
import type { Config } from '../config.js';
import { secretValues } from '../config.js';
import { parkKey, type Hint } from '../domain/hint.js';
import { credentialsRefusedBy, describeError, isHeldBack } from '../errors.js';
import { LeaderLockHeldError } from '../ha/leader-lock.js';
import type { KeycloakReader } from '../keycloak/keycloak-reader.js';
import { createLogger, type Logger } from '../logger.js';
import type { ScimClient } from '../scim/scim-client.js';
import { StateDirInUseError, StateDirLock } from '../state/state-dir-lock.js';
import type { StateStore } from '../state/state-store.js';
import { SyncEngine } from '../sync/engine.js';
import { QueueClosedError } from '../sync/work-queue.js';
import { engineRulesFrom, keycloakReaderFrom, scimClientFrom } from './clients.js';
import { openCommandState, type CommandState } from './command-state.js';
import { reconcilerView } from './keycloak-adapter.js';

/** A command's logger: to stderr, so that stdout carries only the report (and JSON stays JSON). */
export function commandLogger(config: Config): Logger {
  return createLogger({
    level: config.log.level,
    secrets: secretValues(config),
    destination: pino.destination({ dest: 2, sync: true }),
  });
}

/** A writing command found a relay on the state, and does not write beside it. */
export class RelayRunningError extends Error {}

/** How one hint's work ended in a command. */
export type HintResult =
  | { readonly hint: Hint; readonly outcome: 'applied' }
  /** It failed again, and is parked with this reason (as `run` parks it). */
  | { readonly hint: Hint; readonly outcome: 'parked'; readonly reason: string }
  /** The command stopped before it ended (SCIM refused the token, the time was up). */
  | { readonly hint: Hint; readonly outcome: 'cut'; readonly reason: string };

/**
 * The relay's engine for one writing command (`parked retry`, `dead-letter replay`): the same
 * reconciler, work queue, per-entity locks, ownership checks and parking as `run`, on the
 * state taken for this command alone, without the background work (no sweep, no timers).
 */
export interface CommandEngine {
  readonly store: StateStore;
  readonly keycloak: KeycloakReader;
  /**
   * Runs the hints side by side until each is applied or parked, then waits for the work they
   * started in passing (a user's parked memberships, a name holder). Once the command is cut
   * short, every hint not done ends as `cut`, and so does every later call.
   */
  run(hints: readonly Hint[]): Promise<HintResult[]>;
  /** Why the command was cut short; undefined while it was not. */
  readonly cutReason: string | undefined;
  close(): Promise<void>;
}

/** A hint that keeps failing transiently is parked after this many tries (`run` tries 10). */
const COMMAND_TRANSIENT_ATTEMPTS = 3;

/**
 * Takes the state for writing (refusing, with `whileRunning` as the way out, when a relay runs
 * on it) and wires the engine. `timeoutMs` bounds the whole command: work still running then
 * is cut short and stays as it was (parked work stays parked, a message stays queued).
 */
export async function openCommandEngine(
  config: Config,
  options: {
    readonly command: string;
    readonly logger: Logger;
    readonly timeoutMs: number;
    /** What to do instead while a relay runs, e.g. "stop it, retry, and start it again". */
    readonly whileRunning: string;
  },
): Promise<CommandEngine> {
  const { logger } = options;
  let state: CommandState;
  try {
    state = await openCommandState(config, {
      readOnly: false,
      logger,
      command: options.command,
    });
  } catch (error) {
    if (error instanceof StateDirInUseError) {
      const { pid } = StateDirLock.probe(config.state.dir);
      throw new RelayRunningError(
        `a relay runs on STATE_DIR ${config.state.dir}${pid === undefined ? '' : ` (pid ${pid})`}, and \`${options.command}\` does not write beside it: ${options.whileRunning}`,
      );
    }
    if (error instanceof LeaderLockHeldError) {
      throw new RelayRunningError(
        `a relay replica holds the leader lock on STATE_URL, and \`${options.command}\` does not write beside it: ${options.whileRunning}`,
      );
    }
    throw error;
  }
  let scim: ScimClient | undefined;
  let keycloak: KeycloakReader | undefined;
  try {
    scim = scimClientFrom(config, { logger });
    keycloak = await keycloakReaderFrom(config);
  } catch (error) {
    await scim?.close();
    await state.close();
    throw error;
  }
  return new WiredCommandEngine(config, state, scim, keycloak, options);
}

class WiredCommandEngine implements CommandEngine {
  readonly store: StateStore;
  private readonly engine: SyncEngine;
  private readonly timer: NodeJS.Timeout;
  private cut: string | undefined;

  constructor(
    config: Config,
    private readonly state: CommandState,
    private readonly scim: ScimClient,
    readonly keycloak: KeycloakReader,
    options: { readonly logger: Logger; readonly timeoutMs: number },
  ) {
    this.store = state.store;
    this.engine = new SyncEngine(
      {
        keycloak: reconcilerView(keycloak),
        scim,
        store: state.store,
        hooks: {
          onRetry: (_hint, error) => {
            // A whole side refuses (credentials, disabled integration): `run` waits that out,
            // a command says so at once instead.
            const refusedBy = credentialsRefusedBy(error);
            if (refusedBy === 'keycloak') {
              this.cutShort(`Keycloak refused the client credentials: ${describeError(error)}`);
            } else if (isHeldBack(error)) {
              this.cutShort(
                `SCIM refused the request (token rejected or integration disabled): ${describeError(error)}`,
              );
            }
          },
        },
      },
      {
        ...engineRulesFrom(config),
        maxTransientAttempts: COMMAND_TRANSIENT_ATTEMPTS,
        // Nothing runs in the background of a command: no sweep, no parked rounds, no checks.
        resyncIntervalMs: 0,
        parkedRetryMs: 0,
        verifyIntervalMs: 0,
        logger: options.logger,
      },
    );
    this.timer = setTimeout(() => {
      this.cutShort(`not done within ${Math.round(options.timeoutMs / 1000)} s (--timeout)`);
    }, options.timeoutMs);
    this.timer.unref();
  }

  get cutReason(): string | undefined {
    return this.cut;
  }

  async run(hints: readonly Hint[]): Promise<HintResult[]> {
    const settled = await Promise.allSettled(hints.map((hint) => this.engine.submit(hint)));
    if (this.cut === undefined) await this.engine.queue.idle();
    return hints.map((hint, i): HintResult => {
      const result = settled[i];
      if (result?.status === 'fulfilled' && result.value === 'applied') {
        return { hint, outcome: 'applied' };
      }
      if (result?.status === 'fulfilled') {
        const parked = this.store.parked().find((item) => item.key === parkKey(hint));
        return { hint, outcome: 'parked', reason: parked?.reason ?? 'parked' };
      }
      const error: unknown = result?.reason;
      return {
        hint,
        outcome: 'cut',
        reason:
          error instanceof QueueClosedError || error === undefined
            ? (this.cut ?? 'the command stopped')
            : describeError(error),
      };
    });
  }

  /** Stops the work at once: queued hints are refused, SCIM requests in flight aborted. */
  private cutShort(reason: string): void {
    if (this.cut !== undefined) return;
    this.cut = reason;
    void this.engine.queue.close();
    this.scim.abort();
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.engine.stop();
    await this.state.store.durable();
    await Promise.allSettled([this.scim.close(), this.keycloak.close()]);
    await this.state.close();
  }
}
