import {
  type CrossFieldRule,
  type SettingTree,
  type ValuesByEnv,
  optional,
  required,
  withDefault,
} from './setting.js';
import {
  amqpUrl,
  directoryPath,
  groupPath,
  groupPathList,
  httpUrl,
  oneOf,
  pemFile,
  postgresUrl,
  periodOrOff,
  queueName,
  secretText,
  text,
  wholeNumber,
} from './value-kinds.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const secret = { secret: true } as const;

function defineSettings<const T extends SettingTree>(tree: T): T {
  return tree;
}

/**
 * Every setting of the relay, in one place. Each entry is the setting's environment name, the
 * kind of value, its default, whether it is secret and a one-line description; the loaded
 * configuration, its validation and the README table all come from here. To add a setting, add
 * an entry (and the TSDoc that editors show on the configuration field).
 */
export const settings = defineSettings({
  keycloak: {
    /** Keycloak base URL, without `/admin` or `/realms`. Required. */
    url: required(
      'KEYCLOAK_URL',
      httpUrl('http://localhost:8080'),
      'Keycloak base URL, e.g. `http://localhost:8080`',
    ),
    /** Realm whose users, groups and memberships are relayed. Required. */
    realm: required('KEYCLOAK_REALM', text(), 'Realm whose users and groups are relayed'),
    /** Confidential client with a service account. Default: `scim-relay`. */
    clientId: withDefault(
      'KEYCLOAK_CLIENT_ID',
      text(),
      'scim-relay',
      'Confidential client whose service account reads the realm',
    ),
    /** Secret of that client. Required; secret. */
    clientSecret: required(
      'KEYCLOAK_CLIENT_SECRET',
      secretText(),
      'Secret of the client above',
      secret,
    ),
    /** PEM bundle to trust for Keycloak TLS. Default: none (the system trust store). */
    caFile: optional('KEYCLOAK_CA_FILE', pemFile(), 'PEM bundle to trust for Keycloak TLS'),
    /** Page size for reading users, groups and events from Keycloak. Default: `100`. */
    pageSize: withDefault(
      'KEYCLOAK_PAGE_SIZE',
      wholeNumber(1, 1000),
      100,
      'Page size when reading users, groups, members and events from Keycloak',
    ),
  },
  scim: {
    /**
     * Kestra SCIM base URL, `https://<kestra>/api/v1/<tenant>/integrations/<id>/scim/v2`,
     * without a trailing slash. Required.
     */
    url: required(
      'SCIM_URL',
      httpUrl('https://kestra.example.com/api/v1/main/integrations/<id>/scim/v2'),
      'Kestra SCIM base URL: `https://<kestra>/api/v1/<tenant>/integrations/<id>/scim/v2`',
    ),
    /** Kestra's Secret Token for the integration, sent as a Bearer token. Required; secret. */
    token: required(
      'SCIM_TOKEN',
      secretText(),
      "Kestra's Secret Token for the integration",
      secret,
    ),
    /** PEM bundle to trust for SCIM TLS. Default: none (the system trust store). */
    caFile: optional('SCIM_CA_FILE', pemFile(), 'PEM bundle to trust for SCIM TLS'),
    /** Timeout per SCIM request, for headers and for body. Default: `30000`. */
    timeoutMs: withDefault(
      'SCIM_TIMEOUT_MS',
      wholeNumber(1000, 10 * MINUTE, 'milliseconds'),
      30_000,
      'Timeout per SCIM request, for headers and for body',
    ),
    /** Timeout to open a connection to the SCIM server. Default: `10000`. */
    connectTimeoutMs: withDefault(
      'SCIM_CONNECT_TIMEOUT_MS',
      wholeNumber(100, 5 * MINUTE, 'milliseconds'),
      10_000,
      'Timeout to open a connection to the SCIM server',
    ),
    /** Keep-alive connection pool size towards the SCIM server. Default: `8`. */
    maxConnections: withDefault(
      'SCIM_MAX_CONNECTIONS',
      wholeNumber(1, 256),
      8,
      'Keep-alive connection pool size towards the SCIM server',
    ),
    /** `count` asked for when listing SCIM resources. Default: `100`. */
    pageSize: withDefault(
      'SCIM_PAGE_SIZE',
      wholeNumber(1, 1000),
      100,
      'Page size when listing SCIM users and groups',
    ),
    /** Most members added or removed by one group PATCH. Default: `100`. */
    memberBatchSize: withDefault(
      'SCIM_MEMBER_BATCH_SIZE',
      wholeNumber(1, 1000),
      100,
      'Most members added or removed by one group PATCH',
    ),
  },
  retry: {
    /** Attempts per request, the first one included. Default: `6`. */
    maxAttempts: withDefault(
      'RETRY_MAX_ATTEMPTS',
      wholeNumber(1, 100),
      6,
      'Attempts per request, the first one included',
    ),
    /** Base of the exponential backoff. Default: `500`. */
    minDelayMs: withDefault(
      'RETRY_MIN_DELAY_MS',
      wholeNumber(0, HOUR, 'milliseconds'),
      500,
      'Base of the exponential backoff between attempts',
    ),
    /** Longest single wait between attempts. Default: `30000`. */
    maxDelayMs: withDefault(
      'RETRY_MAX_DELAY_MS',
      wholeNumber(0, HOUR, 'milliseconds'),
      30_000,
      'Longest single wait between attempts',
    ),
    /** Total time budget for one request and its retries. Default: `120000`. */
    maxElapsedMs: withDefault(
      'RETRY_MAX_ELAPSED_MS',
      wholeNumber(0, DAY, 'milliseconds'),
      120_000,
      'Total time budget for one request and its retries',
    ),
  },
  /**
   * Where change hints come from: `poll` (Keycloak's event API) or `amqp` (RabbitMQ).
   * Default: `poll`.
   */
  source: withDefault(
    'SOURCE',
    oneOf(['poll', 'amqp']),
    'poll',
    "Where change hints come from: Keycloak's event API (`poll`) or RabbitMQ (`amqp`)",
  ),
  /**
   * How long after an event's time the relay waits before it reads the changed entity. Keycloak
   * hands an event to its listeners before it drops the entity from its own cache (keycloak#51532),
   * so a read at once can still see the old values. Default: `100`.
   */
  eventSettleMs: withDefault(
    'EVENT_SETTLE_MS',
    wholeNumber(0, 10_000, 'milliseconds'),
    100,
    "How long after an event's time the relay waits before reading the changed entity, so that Keycloak's cache holds the change",
  ),
  poll: {
    /** Pause between two polls of Keycloak's events. Default: `5000`. */
    intervalMs: withDefault(
      'POLL_INTERVAL_MS',
      wholeNumber(100, HOUR, 'milliseconds'),
      5000,
      "Pause between two polls of Keycloak's admin and user events",
    ),
  },
  amqp: {
    /** RabbitMQ URL, may embed a password. Required when `source` is `amqp`; secret. */
    url: optional(
      'AMQP_URL',
      amqpUrl(),
      'RabbitMQ URL, e.g. `amqp://user:pass@host:5672/vhost`; required when `SOURCE=amqp`',
      secret,
    ),
    /** Exchange Keycloak's RabbitMQ listener publishes to. Default: `amq.topic`. */
    exchange: withDefault(
      'AMQP_EXCHANGE',
      text(),
      'amq.topic',
      "Exchange Keycloak's RabbitMQ event listener publishes to",
    ),
    /** Durable queue the relay declares and binds. Default: `keycloak-scim-relay.<realm>`. */
    queue: withDefault(
      'AMQP_QUEUE',
      queueName(),
      {
        kind: 'derived',
        text: 'keycloak-scim-relay.<KEYCLOAK_REALM>',
        derive: (known) => {
          const realm = known.get('KEYCLOAK_REALM');
          return typeof realm === 'string' ? `keycloak-scim-relay.${realm}` : undefined;
        },
      },
      'Durable queue the relay declares and binds to the exchange',
    ),
    /**
     * Unacknowledged messages the broker hands out at once. Each holds its place while it settles
     * (`EVENT_SETTLE_MS`) and is applied, so this bounds the rate: 64 allows some 400 events/s.
     * Default: `64`.
     */
    prefetch: withDefault(
      'AMQP_PREFETCH',
      wholeNumber(1, 65_535),
      64,
      'Unacknowledged messages the broker hands to the relay at once',
    ),
    /**
     * Deaths of the relay with one message in flight before that message is set aside (its
     * work parked, never dead-lettered). Default: `5`.
     */
    maxDeliveries: withDefault(
      'AMQP_MAX_DELIVERIES',
      wholeNumber(1, 1000),
      5,
      'Times the relay may die with one message in flight before the message is set aside (its work parked, not dead-lettered)',
    ),
    /**
     * How often, in AMQP mode, the realm's stored events are read for what the listener lost.
     * `0` turns the backstop off. Default: `30000`.
     */
    backstopIntervalMs: withDefault(
      'BACKSTOP_INTERVAL_MS',
      wholeNumber(0, HOUR, 'milliseconds'),
      30_000,
      "How often (AMQP mode) the realm's stored events are read for changes the RabbitMQ listener lost; 0: never",
    ),
    /** PEM bundle to trust for `amqps://` TLS. Default: none (the system trust store). */
    caFile: optional('AMQP_CA_FILE', pemFile(), 'PEM bundle to trust for `amqps://` TLS'),
  },
  state: {
    /**
     * Directory for the id map, checkpoints and parked work, as an absolute path.
     * Default: `./state`.
     */
    dir: withDefault(
      'STATE_DIR',
      directoryPath(),
      './state',
      'Directory where the relay keeps its id map, checkpoints and parked work',
    ),
    /**
     * PostgreSQL URL for state shared by replicas; they elect one leader. Default: none (the
     * embedded SQLite store in `STATE_DIR`). Secret: may embed a password.
     */
    url: optional(
      'STATE_URL',
      postgresUrl(),
      'PostgreSQL URL for state shared by several replicas, which then elect one leader (instead of SQLite in `STATE_DIR`)',
      secret,
    ),
  },
  mapping: {
    /** Keycloak field that becomes SCIM `userName`. Default: `username`. */
    usernameSource: withDefault(
      'USERNAME_SOURCE',
      oneOf(['username', 'email']),
      'username',
      'Keycloak field that becomes the SCIM `userName`',
    ),
    /**
     * Keycloak group field that becomes SCIM `displayName`: `path` (`/eng/backend`) or
     * `name`. Default: `path`.
     */
    groupNameSource: withDefault(
      'GROUP_NAME_SOURCE',
      oneOf(['path', 'name']),
      'path',
      'Group field that becomes the SCIM `displayName`: `path` (e.g. `/eng/backend`) or `name`',
    ),
    /**
     * What a user deleted in Keycloak becomes: a SCIM DELETE (`delete`) or `active: false`
     * (`deactivate`). Default: `delete`.
     */
    userDeleteMode: withDefault(
      'USER_DELETE_MODE',
      oneOf(['delete', 'deactivate']),
      'delete',
      'What deleting a Keycloak user does in SCIM: `delete` it or `deactivate` it',
    ),
    /**
     * `direct` memberships only, or `inherited` ones too (a member of a child group counts
     * for its ancestors). Default: `direct`.
     */
    membershipMode: withDefault(
      'MEMBERSHIP_MODE',
      oneOf(['direct', 'inherited']),
      'direct',
      'Relay `direct` memberships only, or `inherited` ones too (a child group member joins its ancestors)',
    ),
  },
  sync: {
    /** Reconciles run in parallel. Default: `4`. */
    concurrency: withDefault(
      'CONCURRENCY',
      wholeNumber(1, 64),
      4,
      'Reconciles that run in parallel',
    ),
    /**
     * Every user and group the relay manages is verified against Keycloak, and Keycloak's
     * listing searched for what it does not manage, once per period, in slices every minute
     * (each costs about three requests per entity); 0 switches it off. Default: `3600000`.
     */
    resyncIntervalMs: withDefault(
      'RESYNC_INTERVAL_MS',
      periodOrOff(1000, 7 * DAY),
      HOUR,
      'Period in which every managed user and group is verified against Keycloak, in slices every minute; `0` switches it off',
    ),
    /**
     * How often the SCIM side's user and group counts are compared with what the relay wrote,
     * to notice a SCIM side that lost them (a restore, a re-created integration) and reconcile
     * everything at once; 0 switches the check off. Default: `60000`.
     */
    scimCheckIntervalMs: withDefault(
      'SCIM_CHECK_INTERVAL_MS',
      periodOrOff(1000, DAY),
      MINUTE,
      'How often SCIM’s user and group counts are checked against what the relay wrote, to notice lost state; `0` switches it off',
    ),
    /**
     * Only members of these groups (or of their subgroups) are provisioned. Default: none, every
     * user is (service accounts never are).
     */
    scopeGroups: optional(
      'SCOPE_GROUPS',
      groupPathList(),
      'Provision only members of these groups or their subgroups; unset: every user',
    ),
    /** Only this group and the groups below it are provisioned. Default: none, every group is. */
    scopeGroupPath: optional(
      'SCOPE_GROUP_PATH',
      groupPath(),
      'Provision only this group and the groups below it; unset: every group',
    ),
  },
  log: {
    /** pino log level. Default: `info`. */
    level: withDefault(
      'LOG_LEVEL',
      oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      'info',
      'Least severe level that is logged',
    ),
  },
  http: {
    /** Address of the health and metrics endpoint. Default: none (every interface). */
    host: optional(
      'HTTP_HOST',
      text(),
      'Address the health and metrics endpoint listens on; unset means every interface',
    ),
    /** Port of the health and metrics endpoint; 0 switches it off. Default: `9464`. */
    port: withDefault(
      'HTTP_PORT',
      wholeNumber(0, 65_535),
      9464,
      'Port of the health and metrics endpoint; `0` switches it off',
    ),
  },
});

/** The valid settings by environment name, as cross-field rules see them. */
export type SettingsByEnv = ValuesByEnv<typeof settings>;

/** Rules that span settings; their problems join the same list as the fields' own. */
export const crossFieldRules: readonly CrossFieldRule<SettingsByEnv>[] = [
  {
    env: 'AMQP_URL',
    reads: ['SOURCE', 'AMQP_URL'],
    check: (v) =>
      v.SOURCE === 'amqp' && v.AMQP_URL === undefined
        ? 'is required when SOURCE=amqp; expected an amqp:// or amqps:// URL'
        : undefined,
  },
  {
    env: 'RETRY_MIN_DELAY_MS',
    reads: ['RETRY_MIN_DELAY_MS', 'RETRY_MAX_DELAY_MS'],
    check: (v) =>
      v.RETRY_MIN_DELAY_MS !== undefined &&
      v.RETRY_MAX_DELAY_MS !== undefined &&
      v.RETRY_MIN_DELAY_MS > v.RETRY_MAX_DELAY_MS
        ? `is ${v.RETRY_MIN_DELAY_MS}, above RETRY_MAX_DELAY_MS (${v.RETRY_MAX_DELAY_MS}); expected at most RETRY_MAX_DELAY_MS`
        : undefined,
  },
];
