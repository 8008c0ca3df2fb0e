import { afterAll, describe, expect, it } from 'vitest';
import type { Hint } from '../../src/domain/hint.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import type { ProfileName } from '../../packages/scim-server/src/profile.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { FakeRealm, type Emitted } from '../support/fake-keycloak.js';
import {
  dryRun,
  hintsOf,
  parityEngine,
  plannedWrites,
  type ParityConfig,
} from '../support/parity.js';

/**
 * Sequences the property-based parity tests once found the event path wrong on, reduced to
 * their few steps: each must end with a full reconcile planning nothing.
 */
const token = 'regressions-token-4c2f9a';
const base: ParityConfig = {
  usernameSource: 'username',
  groupNameSource: 'path',
  membershipMode: 'direct',
  userDeleteMode: 'delete',
};

describe('the event path where the parity tests once found it wrong', () => {
  const servers: RunningScimServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  const setup = async (config: ParityConfig, profile: ProfileName, patchDelayMs = 0) => {
    const server = await startScimServer({
      token,
      testApi: true,
      profile,
      ...(profile === 'generic' ? { patchDelayMs } : {}),
    });
    servers.push(server);
    const control = new ScimServerControl(server.origin);
    const realm = new FakeRealm();
    const log = memoryDestination();
    const relay = parityEngine(
      realm,
      server.baseUrl,
      token,
      config,
      createLogger({ level: 'info', secrets: [token], destination: log }),
    );
    /** Hands over the hints of what Keycloak recorded, all at once, and waits until applied. */
    const deliver = async (...changes: Emitted[]): Promise<void> => {
      const hints: Hint[] = changes.flatMap((c) => hintsOf(c.events));
      await Promise.all(hints.map((h) => relay.engine.submit(h)));
      await relay.engine.queue.idle();
    };
    const plan = async (): Promise<string[]> => {
      const writes = plannedWrites(await dryRun({ keycloak: realm, ...relay }, config));
      await relay.close();
      return writes;
    };
    return { realm, relay, control, log, deliver, plan };
  };

  it('never lets a rename and a member PATCH to one group overlap on a server without locks', async () => {
    const { realm, deliver, plan } = await setup(base, 'generic', 100);
    const ops = realm.createGroup('ops');
    const ada = realm.createUser({ username: 'ada', enabled: true });
    await deliver(ops, ada);
    await deliver(realm.renameGroup(ops.id, 'dev'), realm.addMember(ada.id, ops.id));
    // Overlapping, the member PATCH would read the group before the rename and write it back.
    expect(await plan()).toEqual([]);
  });

  it('takes back the inherited memberships of a deleted group that had no twin', async () => {
    const config = { ...base, groupNameSource: 'name', membershipMode: 'inherited' } as const;
    const { realm, deliver, plan } = await setup(config, 'kestra');
    const top = realm.createGroup('sales');
    await deliver(top);
    const child = realm.createChildGroup(top.id, 'sales'); // same displayName: refused, no twin
    const erin = realm.createUser({ username: 'erin', enabled: true });
    await deliver(child, erin);
    await deliver(realm.addMember(erin.id, child.id)); // erin joins SCIM "sales" (the top) by inheritance
    await deliver(realm.deleteGroup(child.id));
    expect(await plan()).toEqual([]);
  });

  it('gives a user deactivated while it could not be mapped its groups back when it is again', async () => {
    const config = { ...base, usernameSource: 'email', userDeleteMode: 'deactivate' } as const;
    const { realm, deliver, plan } = await setup(config, 'kestra');
    const ops = realm.createGroup('ops');
    const frank = realm.createUser({
      username: 'frank',
      email: 'frank@example.com',
      enabled: true,
    });
    await deliver(ops, frank);
    await deliver(realm.addMember(frank.id, ops.id));
    await deliver(realm.updateUser(frank.id, { email: '' })); // deactivated, leaves /ops
    await deliver(realm.updateUser(frank.id, { email: 'frank@example.com' })); // active again
    expect(await plan()).toEqual([]);
  });

  it('keeps a membership parked with its user, and applies it once the user is provisioned', async () => {
    const { realm, deliver, plan } = await setup(base, 'kestra');
    const bob = realm.createUser({ username: 'bob', enabled: true });
    const g = realm.createGroup('g');
    await deliver(bob, g);
    await deliver(realm.deleteUser(bob.id)); // Kestra keeps userName "bob" for a user hidden from the tenant
    const carol = realm.createUser({ username: 'carol', enabled: true });
    await deliver(carol);
    await deliver(realm.updateUser(carol.id, { username: 'bob' }), realm.addMember(carol.id, g.id)); // both parked (409)
    await deliver(realm.updateUser(carol.id, { username: 'carol' })); // the user is fine again
    expect(await plan()).toEqual([]);
  });

  it('does not let a subgroup that cannot have its name hold back its parent', async () => {
    const config = { ...base, groupNameSource: 'name' } as const;
    const { realm, control, deliver, plan } = await setup(config, 'kestra');
    const eng = realm.createGroup('eng');
    const sales = realm.createChildGroup(eng.id, 'sales');
    await deliver(eng, sales);
    // The old "sales" becomes a second "eng"; a new "sales" appears, with an "eng" below it.
    const renamed = realm.renameGroup(sales.id, 'eng');
    const newSales = realm.createChildGroup(eng.id, 'sales');
    const nested = realm.createChildGroup(newSales.id, 'eng');
    await deliver(newSales, nested);
    await deliver(renamed);
    const groups = (await control.state()).groups;
    expect(groups.find((g) => g.displayName === 'sales')?.externalId).toBe(newSales.id);
    expect(await plan()).toEqual([]);
  });

  it('knows the tree a full reconcile listed, twinless groups included, when an event deletes a subtree', async () => {
    const config = { ...base, groupNameSource: 'name' } as const;
    const { realm, relay, deliver, plan } = await setup(config, 'kestra');
    realm.createGroup('eng');
    const ops = realm.createGroup('ops');
    const twinless = realm.createChildGroup(ops.id, 'eng'); // "eng" is taken: no twin
    realm.createChildGroup(twinless.id, 'dev');
    // Nothing announced: only a full reconcile, as at a first start, sees these groups.
    await relay.engine.reconcileAll();
    await deliver(realm.deleteGroup(ops.id));
    expect(await plan()).toEqual([]);
  });

  it('deletes the twins below groups that had none when their ancestor is deleted', async () => {
    const config = { ...base, groupNameSource: 'name' } as const;
    const { realm, deliver, plan } = await setup(config, 'kestra');
    const eng = realm.createGroup('eng'); // holds the displayName "eng"
    const ops = realm.createGroup('ops');
    await deliver(eng, ops);
    const mid = realm.createChildGroup(ops.id, 'eng'); // refused: "eng" is taken, no twin
    await deliver(mid);
    const low = realm.createChildGroup(mid.id, 'eng'); // refused too, no twin
    await deliver(low);
    const leaf = realm.createChildGroup(low.id, 'dev');
    await deliver(leaf); // SCIM group "dev", recorded with parent `low`
    await deliver(realm.deleteGroup(mid.id)); // Keycloak deletes /ops/eng, /ops/eng/eng, /ops/eng/eng/dev
    expect(await plan()).toEqual([]);
  });
});
