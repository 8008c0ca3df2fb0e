/**
 * `npm run demo`: Keycloak, RabbitMQ (when installed), the project's SCIM server and the relay,
 * on this machine without Docker, until Ctrl-C. See scripts/demo/demo-stack.ts.
 */
import { parseArgs } from 'node:util';
import { demoBanner } from './demo/demo-banner.js';
import type { DemoBrokerChoice } from './demo/demo-broker.js';
import { levelWord } from './demo/demo-process.js';
import { startDemo } from './demo/demo-stack.js';

const USAGE = `Usage: npm run demo [-- options]

Starts Keycloak (dev mode, the demo realm), RabbitMQ when installed, the project's SCIM server
with its web page, and the relay; prints the URLs; Ctrl-C stops everything it started.

  --poll                   run the relay in poll mode, without RabbitMQ
  --private-rabbitmq       start a RabbitMQ node of the demo's own even if one answers on 5672
  --free-ports             free ports instead of 8080 (Keycloak), 8880 (SCIM), 9464 (relay)
  --keycloak-version <v>   Keycloak version (default: KEYCLOAK_VERSION, else 25.0.6)
  --help                   show this text`;

const say = (line: string): void => {
  console.error(`[demo] ${line}`);
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      poll: { type: 'boolean', default: false },
      'private-rabbitmq': { type: 'boolean', default: false },
      'free-ports': { type: 'boolean', default: false },
      'keycloak-version': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const broker: DemoBrokerChoice = values.poll
    ? 'none'
    : values['private-rabbitmq']
      ? 'private'
      : 'auto';

  // The first Ctrl-C stops everything in order; a second one leaves at once (the children's
  // process groups are still killed on exit).
  const stopRequested = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) {
      say(`${signal}: stopping everything the demo started (Ctrl-C again to leave at once)`);
      stopRequested.abort(new Error(`stopped by ${signal}`));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let demo;
  try {
    demo = await startDemo({
      broker,
      ports: values['free-ports'] ? 'free' : 'preferred',
      ...(values['keycloak-version'] === undefined
        ? {}
        : { keycloakVersion: values['keycloak-version'] }),
      report: say,
      onRelayLog: (message, level) => {
        const word = levelWord(level);
        console.log(`[relay] ${word === '' ? '' : `${word} `}${message}`);
      },
      signal: stopRequested.signal,
    });
  } catch (error) {
    if (stopRequested.signal.aborted) {
      say('stopped during start-up');
      return 0;
    }
    throw error;
  }
  console.log(demoBanner(demo));
  say(`everything ready in ${Math.round(demo.startupMs / 1000)} s`);
  if (!stopRequested.signal.aborted) {
    await new Promise<void>((resolve) => {
      stopRequested.signal.addEventListener('abort', () => {
        resolve();
      });
    });
  }
  await demo.stop();
  say(`stopped; logs kept in ${demo.runDir}/logs`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
