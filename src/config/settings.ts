import { z } from 'zod';
import * as kinds from './value-kinds.js';
import type { ValueKind } from './value-kinds.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SECRET = true;
const defaultQueue = (realm: string): string => `keycloak-scim-relay.${realm}`;
const DEFAULT_QUEUE = defaultQueue('<KEYCLOAK_REALM>');

/** What a setting falls back to when no source sets it: the README's "Default" column. */
export type Fallback =
  | { readonly kind: 'required' }
  | { readonly kind: 'none' }
  /** A raw value, parsed like any other source so a bad default cannot slip through. */
  | { readonly kind: 'value'; readonly raw: string | number }
  /** Computed from other settings when the configuration is shaped; `text` shows the rule. */
  | { readonly kind: 'derived'; readonly text: string };

/** One setting: what the README table shows of it and what error messages say. */
export interface Setting {
  /** Its environment variable, also its key in the config file. */
  readonly env: string;
  readonly kind: ValueKind<unknown>;
  readonly fallback: Fallback;
  /** Secret values may also come from `<env>_FILE` and never appear in messages or logs. */
  readonly secret: boolean;
  readonly description: string;
}

/** The setting behind each leaf schema of the configuration object. */
const settingOf = new WeakMap<z.ZodType, Setting>();

/** Records that `schema` is the setting `env`, for error messages and the README. */
function define<S extends z.ZodType>(
  schema: S,
  env: string,
  kind: ValueKind<unknown>,
  fallback: Fallback,
  description: string,
  secret = false,
): S {
  settingOf.set(schema, { env, kind, fallback, description, secret });
  return schema;
}

/** A setting that must be set by the environment or the config file. */
const required = <T>(env: string, kind: ValueKind<T>, description: string, secret = false) =>
  define(kind.schema, env, kind, { kind: 'required' }, description, secret);

/** A setting that may stay unset; the configuration then holds `undefined`. */
const optional = <T>(env: string, kind: ValueKind<T>, description: string, secret = false) =>
  define(kind.schema.optional(), env, kind, { kind: 'none' }, description, secret);

/** A setting with a default, which its own schema parses (zod's `prefault`). */
const withDefault = <T>(env: string, kind: ValueKind<T>, raw: string | number, about: string) =>
  define(kind.schema.prefault(raw), env, kind, { kind: 'value', raw }, about);

/** A setting whose default {@link configSchema}'s transform computes from other settings. */
const derived = <T>(env: string, kind: ValueKind<T>, text: string, description: string) =>
  define(kind.schema.optional(), env, kind, { kind: 'derived', text }, description);

const { amqpUrl, directoryPath, groupPath, groupPathList, httpUrl, oneOf, pemFile } = kinds;
const { periodOrOff, postgresUrl, queueName, secretText, text, wholeNumber: whole } = kinds;
const ms = 'milliseconds';

/**
 * Every setting of the relay, nested as the loaded configuration is. Each leaf is a setting's
 * schema, defined with its environment name, value kind, default, description and secrecy.
 * The configuration, its validation and the README table all come from here. Laid out by hand
 * as a table, one setting per line.
 */
// prettier-ignore
const settingsObject = z.object({
  keycloak: z.object({
    url: required('KEYCLOAK_URL', httpUrl('http://localhost:8080'), 'Keycloak base URL, e.g. `http://localhost:8080`'),
    realm: required('KEYCLOAK_REALM', text(), 'Realm whose users and groups are relayed'),
    clientId: withDefault('KEYCLOAK_CLIENT_ID', text(), 'scim-relay', 'Confidential client whose service account reads the realm'),
    clientSecret: required('KEYCLOAK_CLIENT_SECRET', secretText(), 'Secret of the client above', SECRET),
    caFile: optional('KEYCLOAK_CA_FILE', pemFile(), 'PEM bundle to trust for Keycloak TLS'),
    pageSize: withDefault('KEYCLOAK_PAGE_SIZE', whole(1, 1000), 100, 'Page size when reading users, groups, members and events from Keycloak'),
  }),
  scim: z.object({
    url: required('SCIM_URL', httpUrl('https://kestra.example.com/api/v1/main/integrations/<id>/scim/v2'), 'Kestra SCIM base URL: `https://<kestra>/api/v1/<tenant>/integrations/<id>/scim/v2`'),
    token: required('SCIM_TOKEN', secretText(), "Kestra's Secret Token for the integration", SECRET),
    caFile: optional('SCIM_CA_FILE', pemFile(), 'PEM bundle to trust for SCIM TLS'),
    timeoutMs: withDefault('SCIM_TIMEOUT_MS', whole(1000, 10 * MINUTE, ms), 30_000, 'Timeout per SCIM request, for headers and for body'),
    connectTimeoutMs: withDefault('SCIM_CONNECT_TIMEOUT_MS', whole(100, 5 * MINUTE, ms), 10_000, 'Timeout to open a connection to the SCIM server'),
    maxConnections: withDefault('SCIM_MAX_CONNECTIONS', whole(1, 256), 8, 'Keep-alive connection pool size towards the SCIM server'),
    pageSize: withDefault('SCIM_PAGE_SIZE', whole(1, 1000), 100, 'Page size when listing SCIM users and groups'),
    memberBatchSize: withDefault('SCIM_MEMBER_BATCH_SIZE', whole(1, 1000), 100, 'Most members added or removed by one group PATCH'),
  }),
  retry: z.object({
    maxAttempts: withDefault('RETRY_MAX_ATTEMPTS', whole(1, 100), 6, 'Attempts per request, the first one included'),
    // The work queue also waits by these between runs of a failing change: a shorter base or a
    // lower cap would keep hammering a target that is down.
    minDelayMs: withDefault('RETRY_MIN_DELAY_MS', whole(100, HOUR, ms), 500, 'Base of the exponential backoff between attempts'),
    maxDelayMs: withDefault('RETRY_MAX_DELAY_MS', whole(1000, HOUR, ms), 30_000, 'Longest single wait between attempts'),
    maxElapsedMs: withDefault('RETRY_MAX_ELAPSED_MS', whole(0, DAY, ms), 120_000, 'Total time budget for one request and its retries'),
  }),
  source: withDefault('SOURCE', oneOf(['poll', 'amqp']), 'poll', "Where change hints come from: Keycloak's event API (`poll`) or RabbitMQ (`amqp`)"),
  // Keycloak hands an event to its listeners before it drops the entity from its own cache
  // (keycloak#51532), so a read at once can still see the old values.
  eventSettleMs: withDefault('EVENT_SETTLE_MS', whole(0, 10_000, ms), 100, "How long after an event's time the relay waits before reading the changed entity, so that Keycloak's cache holds the change"),
  poll: z.object({
    intervalMs: withDefault('POLL_INTERVAL_MS', whole(100, HOUR, ms), 5000, "Pause between two polls of Keycloak's admin and user events"),
  }),
  amqp: z.object({
    url: optional('AMQP_URL', amqpUrl(), 'RabbitMQ URL, e.g. `amqp://user:pass@host:5672/vhost`; required when `SOURCE=amqp`', SECRET),
    exchange: withDefault('AMQP_EXCHANGE', text(), 'amq.topic', "Exchange Keycloak's RabbitMQ event listener publishes to"),
    queue: derived('AMQP_QUEUE', queueName(), DEFAULT_QUEUE, 'Durable queue the relay declares and binds to the exchange'),
    // Each message holds its place while it settles (EVENT_SETTLE_MS) and is applied, so this
    // bounds the rate: 64 allows some 400 events/s.
    prefetch: withDefault('AMQP_PREFETCH', whole(1, 65_535), 64, 'Unacknowledged messages the broker hands to the relay at once'),
    maxDeliveries: withDefault('AMQP_MAX_DELIVERIES', whole(1, 1000), 5, 'Times the relay may die with one message in flight before the message is set aside (its work parked, not dead-lettered)'),
    backstopIntervalMs: withDefault('BACKSTOP_INTERVAL_MS', whole(0, HOUR, ms), 30_000, "How often (AMQP mode) the realm's stored events are read for changes the RabbitMQ listener lost; 0: never"),
    caFile: optional('AMQP_CA_FILE', pemFile(), 'PEM bundle to trust for `amqps://` TLS'),
  }),
  state: z.object({
    dir: withDefault('STATE_DIR', directoryPath(), './state', 'Directory where the relay keeps its id map, checkpoints and parked work'),
    url: optional('STATE_URL', postgresUrl(), 'PostgreSQL URL for state shared by several replicas, which then elect one leader (instead of SQLite in `STATE_DIR`)', SECRET),
  }),
  mapping: z.object({
    usernameSource: withDefault('USERNAME_SOURCE', oneOf(['username', 'email']), 'username', 'Keycloak field that becomes the SCIM `userName`'),
    groupNameSource: withDefault('GROUP_NAME_SOURCE', oneOf(['path', 'name']), 'path', 'Group field that becomes the SCIM `displayName`: `path` (e.g. `/eng/backend`) or `name`'),
    userDeleteMode: withDefault('USER_DELETE_MODE', oneOf(['delete', 'deactivate']), 'delete', 'What deleting a Keycloak user does in SCIM: `delete` it or `deactivate` it'),
    membershipMode: withDefault('MEMBERSHIP_MODE', oneOf(['direct', 'inherited']), 'direct', 'Relay `direct` memberships only, or `inherited` ones too (a child group member joins its ancestors)'),
  }),
  sync: z.object({
    concurrency: withDefault('CONCURRENCY', whole(1, 64), 4, 'Reconciles that run in parallel'),
    // A slice costs about three requests per entity.
    resyncIntervalMs: withDefault('RESYNC_INTERVAL_MS', periodOrOff(1000, 7 * DAY), HOUR, 'Period in which every managed user and group is verified against Keycloak, in slices every minute; `0` switches it off'),
    // Notices a SCIM side that lost what the relay wrote (a restore, a re-created integration).
    scimCheckIntervalMs: withDefault('SCIM_CHECK_INTERVAL_MS', periodOrOff(1000, DAY), MINUTE, 'How often SCIM’s user and group counts are checked against what the relay wrote, to notice lost state; `0` switches it off'),
    scopeGroups: optional('SCOPE_GROUPS', groupPathList(), 'Provision only members of these groups or their subgroups; unset: every user'),
    scopeGroupPath: optional('SCOPE_GROUP_PATH', groupPath(), 'Provision only this group and the groups below it; unset: every group'),
  }),
  log: z.object({
    level: withDefault('LOG_LEVEL', oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info', 'Least severe level that is logged'),
  }),
  http: z.object({
    host: optional('HTTP_HOST', text(), 'Address the health and metrics endpoint listens on; unset means every interface'),
    port: withDefault('HTTP_PORT', whole(0, 65_535), 9464, 'Port of the health and metrics endpoint; `0` switches it off'),
  }),
});

/** A setting together with where it sits in the configuration. */
export interface PlacedSetting {
  readonly path: readonly string[];
  readonly setting: Setting;
}

function placeSettings(shape: z.core.$ZodShape, prefix: readonly string[] = []): PlacedSetting[] {
  return Object.entries(shape).flatMap(([key, schema]) => {
    const setting = settingOf.get(schema as z.ZodType);
    if (setting !== undefined) return [{ path: [...prefix, key], setting }];
    if (schema instanceof z.ZodObject) return placeSettings(schema.shape, [...prefix, key]);
    throw new Error(`configuration field ${[...prefix, key].join('.')} is no registered setting`);
  });
}

/** Every setting with its place in the configuration, in definition order. */
export const allSettings: readonly PlacedSetting[] = placeSettings(settingsObject.shape);

/** The setting an issue path points into (a list setting's issue may name an item below it). */
export function settingAt(path: readonly PropertyKey[]): Setting | undefined {
  return allSettings.find((placed) => placed.path.every((key, i) => path[i] === key))?.setting;
}

/** Marks the issues of the cross-field rules, which read as whole sentences after the name. */
export const CROSS_FIELD = 'crossField';

/**
 * The configuration as one zod schema: every setting; then the rules that span settings, which
 * run even when other settings failed, so one error lists every problem, but judge only valid
 * values; then the shaping: the derived AMQP queue, and `amqp.url` typed as set in AMQP mode.
 */
export const configSchema = settingsObject
  .superRefine(
    (c, ctx) => {
      const invalid = new Set(ctx.issues.map((issue) => settingAt(issue.path ?? [])?.env));
      const valid = (...envs: string[]): boolean => envs.every((env) => !invalid.has(env));
      const report = (env: string, message: string): void => {
        const path = allSettings.find(({ setting }) => setting.env === env)?.path ?? [];
        ctx.addIssue({ code: 'custom', path: [...path], message, params: { [CROSS_FIELD]: true } });
      };
      if (valid('SOURCE', 'AMQP_URL') && c.source === 'amqp' && c.amqp.url === undefined) {
        report('AMQP_URL', 'is required when SOURCE=amqp; expected an amqp:// or amqps:// URL');
      }
      const { minDelayMs: min, maxDelayMs: max } = c.retry;
      if (valid('RETRY_MIN_DELAY_MS', 'RETRY_MAX_DELAY_MS') && min > max) {
        report(
          'RETRY_MIN_DELAY_MS',
          `is ${min}, above RETRY_MAX_DELAY_MS (${max}); expected at most RETRY_MAX_DELAY_MS`,
        );
      }
      const queue = valid('AMQP_QUEUE', 'KEYCLOAK_REALM') && c.amqp.queue === undefined;
      if (queue && Buffer.byteLength(defaultQueue(c.keycloak.realm)) > 255) {
        report(
          'AMQP_QUEUE',
          `defaults to ${DEFAULT_QUEUE}, which is longer than 255 bytes; expected AMQP_QUEUE set to a queue name of at most 255 bytes`,
        );
      }
    },
    { when: () => true },
  )
  .transform(({ amqp, ...rest }) => {
    const queue = amqp.queue ?? defaultQueue(rest.keycloak.realm);
    if (rest.source === 'poll') return { ...rest, source: rest.source, amqp: { ...amqp, queue } };
    const { url } = amqp;
    // The AMQP_URL rule refused this already; the check lets the type follow.
    if (url === undefined) throw new Error('AMQP_URL: is required when SOURCE=amqp');
    return { ...rest, source: rest.source, amqp: { ...amqp, url, queue } };
  });
