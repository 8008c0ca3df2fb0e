import { afterAll, beforeAll, inject } from 'vitest';
import { startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';
import { relayBehaviour } from './relay-behaviour.js';

describeEachProfile('run, polling Keycloak’s stored events', (profile) => {
  const facts = inject('testStack');
  let harness: RelayHarness;
  beforeAll(async () => {
    harness = await startRelayHarness(facts, {
      prefix: `poll-${profile.name}`,
      env: { SOURCE: 'poll' },
      scim: profile.scim,
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  relayBehaviour(() => harness, profile);
});
