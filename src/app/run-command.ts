import { once } from 'node:events';
import type { Config } from '../config.js';
import { secretValues, redactConfig } from '../config.js';
import { describeError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { createRelay } from './relay.js';
import { runReplica } from './replica.js';

/**
 * `keycloak-scim-relay run`: relays until SIGTERM or SIGINT. With `STATE_URL` it runs as one
 * of several replicas (see `replica.ts`); otherwise alone, on the embedded state. Returns the
 * exit code.
 */
export async function runCommand(config: Config): Promise<number> {
  const logger = createLogger({ level: config.log.level, secrets: secretValues(config) });
  logger.info({ config: redactConfig(config) }, 'keycloak-scim-relay starting');
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) return;
    logger.info({ signal }, 'stopping: finishing the work in flight');
    stop.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const code =
    config.state.url === undefined
      ? await runAlone(config, logger, stop.signal)
      : await runReplica(config, config.state.url, logger, stop.signal);
  // Everything is closed; should a stray handle still hold the event loop, it must not hold
  // the process past its stop bound.
  setTimeout(() => process.exit(code), 1_000).unref();
  return code;
}

async function runAlone(config: Config, logger: Logger, stop: AbortSignal): Promise<number> {
  const relay = await createRelay(config, logger);
  const stopped = (async () => {
    if (!stop.aborted) await once(stop, 'abort');
    await relay.stop().catch((error: unknown) => {
      logger.error({ error: describeError(error) }, 'unclean stop');
    });
  })();
  try {
    await relay.start();
  } catch (error) {
    // A signal during the start (the first full reconcile can be long) is an orderly stop: the
    // start fails because the stop cut its work short, and the next start does that work again.
    if (stop.aborted) {
      await stopped;
      return 0;
    }
    logger.fatal({ error: describeError(error) }, `cannot start: ${describeError(error)}`);
    await relay.stop();
    return 1;
  }
  await stopped;
  return 0;
}
