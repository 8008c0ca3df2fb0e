import { afterAll, beforeAll, describe, inject } from 'vitest';
import { startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { relayBehaviour } from './relay-behaviour.js';

describe('run, polling Keycloak’s stored events', () => {
  const facts = inject('testStack');
  let harness: RelayHarness;
  beforeAll(async () => {
    harness = await startRelayHarness(facts, { prefix: 'poll', env: { SOURCE: 'poll' } });
  });
  afterAll(async () => {
    await harness.close();
  });

  relayBehaviour(() => harness);
});
