/**
 * One half of the resync bench's floor, in a process of its own as the relay's resync is: run
 * in the bench's own process, it shared a heap that holds the cold run's SCIM state, and that
 * heap's collections slowed the floor by a quarter at 100,000 users.
 *
 *   node --import tsx bench/resync-floor-child.ts list
 *   node --import tsx bench/resync-floor-child.ts write <origin of the SCIM server to copy>
 *
 * Configured by the relay's environment (CONCURRENCY among it). Prints one JSON line: the
 * seconds of the timed part and what it did.
 */
import { ScimServerControl } from '../packages/scim-server/src/control-client.js';
import { loadConfig } from '../src/config.js';
import { listKeycloak, writeScim } from './resync-floor.js';

async function main(): Promise<void> {
  const [half, source] = process.argv.slice(2);
  const config = loadConfig(process.env);
  const concurrency = config.sync.concurrency;
  if (half === 'list') {
    const started = performance.now();
    const listed = await listKeycloak(config, concurrency);
    console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, listed }));
  } else if (half === 'write' && source !== undefined) {
    // What the cold run wrote, read before the clock starts.
    const state = await new ScimServerControl(source).state();
    const started = performance.now();
    const written = await writeScim(config, state, concurrency);
    console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, ...written }));
  } else {
    throw new Error('usage: resync-floor-child.ts list | write <SCIM server origin>');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
