import type KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import { mapWithConcurrency } from './concurrency.js';

/** Parallel admin calls a dev-mode Keycloak on two cores absorbs without slowing down. */
const DEFAULT_CONCURRENCY = 8;

/** A user created by {@link seedUsers}. */
export interface SeededUser {
  id: string;
  username: string;
}

/** Creates `count` users `<prefix>-0000`, `<prefix>-0001`, ... with names and e-mail. */
export async function seedUsers(
  admin: KeycloakAdminClient,
  count: number,
  options: { prefix?: string; concurrency?: number } = {},
): Promise<SeededUser[]> {
  const prefix = options.prefix ?? 'user';
  const indexes = Array.from({ length: count }, (_, index) => index);
  return mapWithConcurrency(indexes, options.concurrency ?? DEFAULT_CONCURRENCY, async (index) => {
    const username = `${prefix}-${String(index).padStart(4, '0')}`;
    const representation = {
      username,
      email: `${username}@example.test`,
      firstName: 'Seed',
      lastName: `User ${index}`,
      enabled: true,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await admin.users.create(representation);
        return { id, username };
      } catch (error) {
        // Keycloak 25 can fail a create made while a fresh realm's cache fills
        // (ConcurrentModificationException, a 500): the user may or may not exist then.
        const [existing] = await admin.users.find({ username, exact: true });
        if (existing?.id !== undefined) return { id: existing.id, username };
        if (attempt >= 3) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  });
}

/** One group to create, with its subtree. */
export interface GroupSpec {
  name: string;
  children?: readonly GroupSpec[];
}

/** A group created by {@link seedGroups}. */
export interface SeededGroup {
  id: string;
  name: string;
  path: string;
  parentId: string | undefined;
}

/** Creates a group forest level by level (siblings in parallel); returns every group created. */
export async function seedGroups(
  admin: KeycloakAdminClient,
  specs: readonly GroupSpec[],
  concurrency = DEFAULT_CONCURRENCY,
): Promise<SeededGroup[]> {
  const created: SeededGroup[] = [];
  let level: { spec: GroupSpec; parent: SeededGroup | undefined }[] = specs.map((spec) => ({
    spec,
    parent: undefined,
  }));
  while (level.length > 0) {
    const groups = await mapWithConcurrency(level, concurrency, async ({ spec, parent }) => {
      const { id } =
        parent === undefined
          ? await admin.groups.create({ name: spec.name })
          : await admin.groups.createChildGroup({ id: parent.id }, { name: spec.name });
      const group: SeededGroup = {
        id,
        name: spec.name,
        path: `${parent?.path ?? ''}/${spec.name}`,
        parentId: parent?.id,
      };
      return { group, children: spec.children ?? [] };
    });
    created.push(...groups.map(({ group }) => group));
    level = groups.flatMap(({ group, children }) =>
      children.map((spec) => ({ spec, parent: group })),
    );
  }
  return created;
}

/** Adds each user to each paired group. */
export async function addMemberships(
  admin: KeycloakAdminClient,
  memberships: readonly { userId: string; groupId: string }[],
  concurrency = DEFAULT_CONCURRENCY,
): Promise<void> {
  await mapWithConcurrency(memberships, concurrency, ({ userId, groupId }) =>
    admin.users.addToGroup({ id: userId, groupId }),
  );
}

/** `count` sibling specs named `<prefix>-00`, `<prefix>-01`, ... each with `children(i)`. */
export function siblings(
  prefix: string,
  count: number,
  children: (index: number) => readonly GroupSpec[] = () => [],
): GroupSpec[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `${prefix}-${String(index).padStart(2, '0')}`,
    children: children(index),
  }));
}
