/**
 * A group's SCIM displayName under GROUP_NAME_SOURCE=path, built from the names of the group
 * and its ancestors, never from Keycloak's `path` string.
 *
 * Keycloak accepts `/` inside a group name and, by default, does not escape it in `path`: a
 * top-level group `a/b` and the child `b` of a group `a` both report `path: "/a/b"` (seen on
 * Keycloak 25.0.6 and 26.7.3 alike). Two groups would then want one displayName, and SCIM keeps
 * displayNames unique, so one of them could never be provisioned.
 *
 * The rule: `/` before each name, and inside a name `~` becomes `~~` and `/` becomes `~/`. So
 * `["a", "b"]` is `/a/b`, `["a/b"]` is `/a~/b`, `["a~"]` is `/a~~`. Read left to right, `~`
 * always pairs with the character after it and a lone `/` always starts a name, so two
 * different chains never share a displayName. `~/` is also how Keycloak itself writes a slash
 * in a name when its group provider's escape-slashes-in-group-path option is on (off by
 * default; `KeycloakModelUtils.escapeGroupNameForPath` in 25.0.6 and 26.7.3), so the Kestra
 * name reads as Keycloak would show it; Keycloak leaves `~` itself unescaped, which is why its
 * escaped path is not unambiguous either. A name with neither character keeps the name its
 * group had before this rule: nothing is renamed on existing installations unless a name
 * holds `/` or `~`.
 */

/** The character that escapes a `/` (and itself) inside a group name. */
export const GROUP_NAME_ESCAPE = '~';

/** One name, escaped for a place between the `/` separators. */
export function escapeGroupName(name: string): string {
  return name.replaceAll(GROUP_NAME_ESCAPE, '~~').replaceAll('/', '~/');
}

/** The displayName of the group whose names, from the top-level ancestor down, are `names`. */
export function groupPathName(names: readonly string[]): string {
  return names.map((name) => `/${escapeGroupName(name)}`).join('');
}
