import type KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import type { KeycloakGroup, KeycloakUser } from '../../src/domain/keycloak-model.js';
import {
  FakeRealm,
  type Created,
  type Emitted,
  type NewUser,
  type RealmState,
  type UserPatch,
} from './fake-keycloak.js';

/**
 * Runs the symbolic operations of `keycloak-operations.ts` against a real Keycloak. The
 * `FakeRealm` stays the model: it resolves "the k-th user" and says which operations Keycloak
 * accepts; each change it accepted is then sent to the real server through the admin client,
 * with the fake's ids translated to the real ones. The relay only ever sees the real server.
 */

/** A change the model accepted, with its arguments resolved (fake ids). */
export type AdminCall =
  | { readonly kind: 'createUser'; readonly id: string; readonly body: NewUser }
  | { readonly kind: 'updateUser'; readonly id: string; readonly patch: UserPatch }
  | { readonly kind: 'deleteUser'; readonly id: string }
  | {
      readonly kind: 'createGroup';
      readonly id: string;
      readonly parentId: string | undefined;
      readonly name: string;
    }
  | { readonly kind: 'renameGroup'; readonly id: string; readonly name: string }
  | {
      readonly kind: 'moveGroup';
      readonly id: string;
      readonly name: string;
      readonly parentId: string | undefined;
    }
  | { readonly kind: 'deleteGroup'; readonly id: string }
  | { readonly kind: 'addMember'; readonly userId: string; readonly groupId: string }
  | { readonly kind: 'removeMember'; readonly userId: string; readonly groupId: string };

/**
 * A `FakeRealm` that records every change it accepted, so that the same change can be made on
 * a real server. A refused change throws before it is recorded.
 */
export class RecordingRealm extends FakeRealm {
  private calls: AdminCall[] = [];

  /** The changes accepted since the last call, oldest first. */
  takeCalls(): AdminCall[] {
    const calls = this.calls;
    this.calls = [];
    return calls;
  }

  override createUser(body: NewUser): Created {
    const created = super.createUser(body);
    this.calls.push({ kind: 'createUser', id: created.id, body });
    return created;
  }

  override updateUser(id: string, patch: UserPatch): Emitted {
    const emitted = super.updateUser(id, patch);
    this.calls.push({ kind: 'updateUser', id, patch });
    return emitted;
  }

  override deleteUser(id: string): Emitted {
    const emitted = super.deleteUser(id);
    this.calls.push({ kind: 'deleteUser', id });
    return emitted;
  }

  override createGroup(name: string): Created {
    const created = super.createGroup(name);
    this.calls.push({ kind: 'createGroup', id: created.id, parentId: undefined, name });
    return created;
  }

  override createChildGroup(parentId: string, name: string): Created {
    const created = super.createChildGroup(parentId, name);
    this.calls.push({ kind: 'createGroup', id: created.id, parentId, name });
    return created;
  }

  override renameGroup(id: string, name: string): Emitted {
    const emitted = super.renameGroup(id, name);
    this.calls.push({ kind: 'renameGroup', id, name });
    return emitted;
  }

  override moveGroup(id: string, newParentId: string | undefined): Emitted {
    const emitted = super.moveGroup(id, newParentId);
    const name = this.peekGroup(id)?.name ?? '';
    this.calls.push({ kind: 'moveGroup', id, name, parentId: newParentId });
    return emitted;
  }

  override deleteGroup(id: string): Emitted {
    const emitted = super.deleteGroup(id);
    this.calls.push({ kind: 'deleteGroup', id });
    return emitted;
  }

  override addMember(userId: string, groupId: string): Emitted {
    const emitted = super.addMember(userId, groupId);
    this.calls.push({ kind: 'addMember', userId, groupId });
    return emitted;
  }

  override removeMember(userId: string, groupId: string): Emitted {
    const emitted = super.removeMember(userId, groupId);
    this.calls.push({ kind: 'removeMember', userId, groupId });
    return emitted;
  }
}

/** The model accepted a change that the real Keycloak refused: the test, not the relay, is off. */
export class ModelDivergedError extends Error {
  constructor(call: AdminCall, cause: unknown) {
    super(
      `Keycloak refused a change its model accepted: ${JSON.stringify(call)}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = 'ModelDivergedError';
  }
}

/** Sends the model's changes to a real realm, keeping the map of fake ids to real ids. */
export class KeycloakMirror {
  private readonly ids = new Map<string, string>();

  constructor(private readonly admin: KeycloakAdminClient) {}

  /** The real id of a fake one; throws for an id the mirror never created. */
  real(fakeId: string): string {
    const id = this.ids.get(fakeId);
    if (id === undefined) throw new Error(`no real id for the model's ${fakeId}`);
    return id;
  }

  /** The fake id of a real one, or the real id itself when the model does not know it. */
  fake(realId: string): string {
    for (const [fakeId, id] of this.ids) if (id === realId) return fakeId;
    return realId;
  }

  async apply(call: AdminCall): Promise<void> {
    try {
      await this.send(call);
    } catch (error) {
      throw new ModelDivergedError(call, error);
    }
  }

  private async send(call: AdminCall): Promise<void> {
    const { admin } = this;
    switch (call.kind) {
      case 'createUser': {
        const { body } = call;
        const { id } = await admin.users.create({
          username: body.username,
          ...(body.email === undefined ? {} : { email: body.email }),
          ...(body.firstName === undefined ? {} : { firstName: body.firstName }),
          ...(body.lastName === undefined ? {} : { lastName: body.lastName }),
          ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
          ...(body.groups === undefined ? {} : { groups: [...body.groups] }),
        });
        this.ids.set(call.id, id);
        return;
      }
      case 'updateUser': {
        const { patch } = call;
        await admin.users.update(
          { id: this.real(call.id) },
          {
            ...(patch.username === undefined ? {} : { username: patch.username }),
            ...(patch.email === undefined ? {} : { email: patch.email }),
            ...(patch.firstName === undefined ? {} : { firstName: patch.firstName }),
            ...(patch.lastName === undefined ? {} : { lastName: patch.lastName }),
            ...(patch.enabled === undefined ? {} : { enabled: patch.enabled }),
          },
        );
        return;
      }
      case 'deleteUser':
        await admin.users.del({ id: this.real(call.id) });
        return;
      case 'createGroup': {
        const { id } =
          call.parentId === undefined
            ? await admin.groups.create({ name: call.name })
            : await admin.groups.createChildGroup(
                { id: this.real(call.parentId) },
                { name: call.name },
              );
        this.ids.set(call.id, id);
        return;
      }
      case 'renameGroup':
        await admin.groups.update({ id: this.real(call.id) }, { name: call.name });
        return;
      case 'moveGroup': {
        // A move is a create that names an existing group: at the top level or under a parent.
        const rep = { id: this.real(call.id), name: call.name };
        if (call.parentId === undefined) await admin.groups.updateRoot(rep);
        else await admin.groups.updateChildGroup({ id: this.real(call.parentId) }, rep);
        return;
      }
      case 'deleteGroup':
        await admin.groups.del({ id: this.real(call.id) });
        return;
      case 'addMember':
        await admin.users.addToGroup({
          id: this.real(call.userId),
          groupId: this.real(call.groupId),
        });
        return;
      case 'removeMember':
        await admin.users.delFromGroup({
          id: this.real(call.userId),
          groupId: this.real(call.groupId),
        });
        return;
    }
  }
}

const PAGE = 100;

/** Every item of a `first`/`max` listing. */
async function all<T>(page: (first: number, max: number) => Promise<T[]>): Promise<T[]> {
  const items: T[] = [];
  for (let first = 0; ; first += PAGE) {
    const got = await page(first, PAGE);
    items.push(...got);
    if (got.length < PAGE) return items;
  }
}

/**
 * The realm as Keycloak itself says it is, read with the master admin's client and not with
 * the relay's reader, so that the oracle and the relay share no code that could agree on a bug.
 */
export async function realmStateOf(admin: KeycloakAdminClient): Promise<RealmState> {
  const users: KeycloakUser[] = (
    await all((first, max) => admin.users.find({ first, max, briefRepresentation: false }))
  ).map((rep) => {
    if (rep.id === undefined || rep.username === undefined) {
      throw new Error(`Keycloak listed a user without id or username: ${JSON.stringify(rep)}`);
    }
    return {
      id: rep.id,
      username: rep.username,
      ...(rep.email === undefined ? {} : { email: rep.email }),
      ...(rep.firstName === undefined ? {} : { firstName: rep.firstName }),
      ...(rep.lastName === undefined ? {} : { lastName: rep.lastName }),
      enabled: rep.enabled === true,
      ...(rep.serviceAccountClientId === undefined
        ? {}
        : { serviceAccountClientId: rep.serviceAccountClientId }),
    };
  });

  const groups: KeycloakGroup[] = [];
  // Each level is listed on its own; the parent is the group whose children were asked for.
  const walk = async (parent: KeycloakGroup | undefined): Promise<void> => {
    const level =
      parent === undefined
        ? await all((first, max) => admin.groups.find({ first, max, briefRepresentation: false }))
        : await all((first, max) =>
            admin.groups.listSubGroups({
              parentId: parent.id,
              first,
              max,
              briefRepresentation: false,
            }),
          );
    const sorted = [...level].sort((a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : 1));
    for (const rep of sorted) {
      if (rep.id === undefined || rep.name === undefined) {
        throw new Error(`Keycloak listed a group without id or name: ${JSON.stringify(rep)}`);
      }
      const group: KeycloakGroup = {
        id: rep.id,
        name: rep.name,
        path: rep.path ?? `${parent?.path ?? ''}/${rep.name}`,
        names: [...(parent?.names ?? []), rep.name],
        ...(parent === undefined ? {} : { parentId: parent.id }),
      };
      groups.push(group);
      await walk(group);
    }
  };
  await walk(undefined);

  const members = new Map<string, string[]>();
  for (const group of groups) {
    const listed = await all((first, max) =>
      admin.groups.listMembers({ id: group.id, first, max, briefRepresentation: true }),
    );
    members.set(
      group.id,
      listed.flatMap((user) => (user.id === undefined ? [] : [user.id])),
    );
  }
  return { users, groups, members };
}

/**
 * Where the model and the real realm disagree, in the model's ids: empty when every user,
 * group, path and direct membership matches. Keycloak is the truth for the relay either way;
 * a difference means later operations no longer mean what the model thinks.
 */
export function modelDifferences(
  model: RealmState,
  real: RealmState,
  mirror: KeycloakMirror,
): string[] {
  const differences: string[] = [];
  const people = (state: RealmState, id: (realId: string) => string) =>
    new Map(
      state.users
        .filter((u) => u.serviceAccountClientId === undefined)
        .map((u) => [
          id(u.id),
          JSON.stringify({
            username: u.username,
            email: blank(u.email),
            firstName: blank(u.firstName),
            lastName: blank(u.lastName),
            enabled: u.enabled,
          }),
        ]),
    );
  const tree = (state: RealmState, id: (realId: string) => string) =>
    new Map(
      state.groups.map((g) => [
        id(g.id),
        JSON.stringify({
          name: g.name,
          path: g.path,
          parent: g.parentId === undefined ? null : id(g.parentId),
          members: [...(state.members.get(g.id) ?? [])].map(id).sort(),
        }),
      ]),
    );
  const same = (fakeId: string): string => fakeId;
  const toFake = (realId: string): string => mirror.fake(realId);
  for (const [what, want, have] of [
    ['user', people(model, same), people(real, toFake)],
    ['group', tree(model, same), tree(real, toFake)],
  ] as const) {
    for (const [id, value] of want) {
      const got = have.get(id);
      if (got !== value)
        differences.push(`${what} ${id}: model ${value}, Keycloak ${got ?? 'none'}`);
    }
    for (const [id, value] of have) {
      if (!want.has(id)) differences.push(`${what} ${id}: model none, Keycloak ${value}`);
    }
  }
  return differences;
}

/** Keycloak may answer a cleared field with `''` or leave it out; both mean none. */
function blank(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

/** Deletes every user but the service accounts, and every group (subtrees go with them). */
export async function emptyRealm(admin: KeycloakAdminClient): Promise<void> {
  const users = await all((first, max) => admin.users.find({ first, max }));
  for (const user of users) {
    if (user.id === undefined || user.serviceAccountClientId !== undefined) continue;
    if (user.username?.startsWith('service-account-') === true) continue;
    await admin.users.del({ id: user.id });
  }
  const groups = await all((first, max) => admin.groups.find({ first, max }));
  for (const group of groups) {
    if (group.id !== undefined) await admin.groups.del({ id: group.id });
  }
}
