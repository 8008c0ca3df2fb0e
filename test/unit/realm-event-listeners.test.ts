import { describe, expect, it } from 'vitest';
import { LISTENER_PROVIDER_ID } from '../support/keycloak-listener.js';
import { loadDemoRealm, realmFromTemplate } from '../support/realm-template.js';
import { realmEventListeners } from '../support/test-realm.js';

describe('which event listeners a test realm lists', () => {
  const installed = ['jboss-logging', 'email', LISTENER_PROVIDER_ID];

  it('leaves the real RabbitMQ listener out unless the realm asks for it', () => {
    expect(realmEventListeners(installed, false)).toEqual({
      available: ['jboss-logging', 'email'],
      required: [],
    });
    expect(realmEventListeners(installed, true)).toEqual({
      available: installed,
      required: [LISTENER_PROVIDER_ID],
    });
  });

  it('refuses to make a realm with the real listener on a server without it', () => {
    expect(() => realmEventListeners(['jboss-logging'], true)).toThrow(
      /no keycloak-to-rabbitmq provider \(installed: jboss-logging\)/,
    );
  });

  it('ends up in the realm: dropped from the template’s list, or added where the template lacks it', async () => {
    const template = await loadDemoRealm();
    const quiet = realmEventListeners(installed, false);
    expect(
      realmFromTemplate(template, {
        realm: 'quiet',
        clientSecret: 's',
        availableEventListeners: quiet.available,
        requiredEventListeners: quiet.required,
      }).eventsListeners,
    ).toEqual(['jboss-logging']);
    const publishing = realmEventListeners(installed, true);
    const bare = { ...template, eventsListeners: ['jboss-logging'] };
    expect(
      realmFromTemplate(bare, {
        realm: 'publishing',
        clientSecret: 's',
        availableEventListeners: publishing.available,
        requiredEventListeners: publishing.required,
      }).eventsListeners,
    ).toEqual(['jboss-logging', LISTENER_PROVIDER_ID]);
    expect(
      realmFromTemplate(template, {
        realm: 'publishing',
        clientSecret: 's',
        availableEventListeners: publishing.available,
        requiredEventListeners: publishing.required,
      }).eventsListeners,
    ).toEqual(['jboss-logging', LISTENER_PROVIDER_ID]);
  });
});
