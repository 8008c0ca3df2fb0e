import { readFileSync } from 'node:fs';
import { ConfigError, describeError } from './errors.js';
import { USAGE, parseScimServerArgs } from './cli-args.js';
import { startScimServer } from './server.js';

/** `npm run scim-server -- --token <token> [--port <port>] ...`: see cli-args.ts. */
async function main(): Promise<number> {
  const command = parseScimServerArgs(process.argv.slice(2), (path) => readFileSync(path, 'utf8'));
  if (command.kind === 'help') {
    console.log(USAGE);
    return 0;
  }
  const server = await startScimServer(command.options);
  console.log(`SCIM server listening on ${server.baseUrl}`);
  // The first line stays the URL alone, which scripts parse; the profile follows it.
  if (command.options.profile === 'generic') {
    console.log(
      `profile generic: a plain RFC 7644 server (PATCH waits ${command.options.patchDelayMs ?? 0} ms between read and write)`,
    );
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`scim-server: ${describeError(error)}`);
    if (error instanceof ConfigError) console.error(`\n${USAGE}`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  },
);
