#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createRelay } from './app/relay.js';
import { formatChecks, runChecks } from './app/check.js';
import {
  exitOnConfigError,
  loadConfig,
  redactConfig,
  secretValues,
  type Config,
} from './config.js';
import { describeError } from './errors.js';
import { createLogger } from './logger.js';

const USAGE = `Usage: keycloak-scim-relay <command> [--config FILE]

Commands:
  run      relay Keycloak changes to Kestra's SCIM endpoint until stopped (SIGTERM/SIGINT)
  check    test connectivity and permissions, print a checklist; exit 0 only if all pass

Settings come from environment variables (see README.md, "Configuration"); --config names a
JSON file with the same keys.`;

/** Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration. */
async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help === true || command === undefined) {
    console.log(USAGE);
    return values.help === true ? 0 : 2;
  }

  let config: Config;
  try {
    config = loadConfig(
      process.env,
      values.config === undefined ? {} : { configFile: values.config },
    );
  } catch (error) {
    return exitOnConfigError(error);
  }

  switch (command) {
    case 'check':
      return check(config);
    case 'run':
      return run(config);
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

async function check(config: Config): Promise<number> {
  console.log(`✓ configuration: valid (source=${config.source}, realm=${config.keycloak.realm})`);
  const results = await runChecks(config);
  console.log(formatChecks(results));
  return results.every((r) => r.ok) ? 0 : 1;
}

async function run(config: Config): Promise<number> {
  const logger = createLogger({ level: config.log.level, secrets: secretValues(config) });
  logger.info({ config: redactConfig(config) }, 'keycloak-scim-relay starting');
  const relay = await createRelay(config, logger);

  // Resolves once a signal has asked to stop and the relay has finished its work in flight.
  let stopRequested = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      if (stopRequested) return;
      stopRequested = true;
      logger.info({ signal }, 'stopping: finishing the work in flight');
      relay.stop().then(resolve, (error: unknown) => {
        logger.error({ error: describeError(error) }, 'unclean stop');
        resolve();
      });
    };
    process.once('SIGTERM', () => {
      stop('SIGTERM');
    });
    process.once('SIGINT', () => {
      stop('SIGINT');
    });
  });

  try {
    await relay.start();
  } catch (error) {
    logger.fatal({ error: describeError(error) }, `cannot start: ${describeError(error)}`);
    await relay.stop();
    return 1;
  }
  await stopped;
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`keycloak-scim-relay: ${describeError(error)}`);
    process.exitCode = 1;
  },
);
