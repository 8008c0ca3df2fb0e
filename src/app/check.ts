import { connect } from 'amqplib';
import pg from 'pg';
import type { Config } from '../config.js';
import { USER_EVENT_TYPES } from '../domain/keycloak-event.js';
import { ScimError, describeError, isTransientStatus } from '../errors.js';
import { leaderLockHolder } from '../ha/leader-lock.js';
import { keycloakStatusOf } from '../keycloak/keycloak-errors.js';
import type { KeycloakReader, RealmEventsConfig } from '../keycloak/keycloak-reader.js';
import { amqpTrust } from '../sources/amqp-trust.js';
import { amqpCaOf, keycloakReaderFrom, scimClientFrom } from './clients.js';

/** One line of the checklist. */
export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** What was found. */
  readonly detail: string;
  /** What to do about a failure. */
  readonly fix?: string;
}

const REQUIRED_ROLES = ['view-users', 'view-events'] as const;
const TIMEOUT_MS = 10_000;

/**
 * Checks, in order, everything the relay needs, stopping a branch where a later step cannot
 * work (no token: no role or events checks). Never throws: every failure is a result line.
 */
export async function runChecks(config: Config): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  results.push(...(await checkKeycloak(config)));
  if (config.source === 'amqp') results.push(await checkRabbitMq(config));
  results.push(...(await checkScim(config)));
  if (config.state.url !== undefined) results.push(await checkStateDatabase(config.state.url));
  return results;
}

/** With STATE_URL: PostgreSQL answers, and who leads (a replica, or nobody yet). */
async function checkStateDatabase(url: string): Promise<CheckResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const version = await client.query<{ v: string }>(
      "SELECT current_setting('server_version') AS v",
    );
    const leads = (await leaderLockHolder(client)) !== undefined;
    return {
      name: 'State database',
      ok: true,
      detail: `PostgreSQL ${version.rows[0]?.v ?? '?'} answers; ${leads ? 'a replica leads' : 'no replica leads yet'}`,
    };
  } catch (error) {
    return {
      name: 'State database',
      ok: false,
      detail: `cannot use PostgreSQL: ${describeError(error)}`,
      fix: 'Check STATE_URL (host, port, database, user, password, sslmode)',
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The Keycloak lines, read through the relay's own Keycloak reader, so that `check` logs in,
 * trusts TLS, times out and words its failures exactly as `run` does.
 */
async function checkKeycloak(config: Config): Promise<CheckResult[]> {
  const { url, realm, clientId } = config.keycloak;
  let reader: KeycloakReader | undefined;
  try {
    reader = await keycloakReaderFrom(config, { pageSize: 1, requestTimeoutMs: TIMEOUT_MS });
    let granted: readonly string[];
    try {
      granted = await reader.grantedRoles();
    } catch (error) {
      return [tokenFailure(config, error)];
    }
    const results: CheckResult[] = [
      {
        name: 'Keycloak token',
        ok: true,
        detail: `${url} reachable; client "${clientId}" obtained a token in realm "${realm}"`,
      },
    ];

    const missing = REQUIRED_ROLES.filter((role) => !granted.includes(role));
    results.push(
      missing.length === 0
        ? {
            name: 'Keycloak permissions',
            ok: true,
            detail: `service account holds ${REQUIRED_ROLES.join(' and ')}`,
          }
        : {
            name: 'Keycloak permissions',
            ok: false,
            detail: `service account of client "${clientId}" lacks realm-management role(s): ${missing.join(', ')}`,
            fix: `In realm "${realm}", open Clients > ${clientId} > Service account roles and assign realm-management ${missing.join(' and ')} (nothing else is needed)`,
          },
    );

    results.push(await usersCheck(config, reader));
    results.push(...(await eventChecks(config, reader)));
    return results;
  } catch (error) {
    return [unreachable(config, error)];
  } finally {
    await reader?.close();
  }
}

function unreachable(config: Config, error: unknown): CheckResult {
  return {
    name: 'Keycloak reachable',
    ok: false,
    // The reader's own words, which name the URL and what failed (refused, TLS, timeout).
    detail: describeError(error),
    fix: 'Check KEYCLOAK_URL, the network path to Keycloak, and KEYCLOAK_CA_FILE for a private CA',
  };
}

/** Why the service account got no token: no answer at all, no such realm, or refused. */
function tokenFailure(config: Config, error: unknown): CheckResult {
  const { url, realm } = config.keycloak;
  const status = keycloakStatusOf(error);
  if (status === undefined) return unreachable(config, error);
  if (status === 404) {
    return {
      name: 'Keycloak token',
      ok: false,
      detail: `realm "${realm}" does not exist at ${url}`,
      fix: 'Check KEYCLOAK_REALM (the realm name, not its display name)',
    };
  }
  if (isTransientStatus(status)) {
    return {
      name: 'Keycloak token',
      ok: false,
      detail: describeError(error),
      fix: `Keycloak at ${url} answered but could not issue a token: check its health and logs, then run check again`,
    };
  }
  return {
    name: 'Keycloak token',
    ok: false,
    detail: describeError(error),
    fix: 'Check KEYCLOAK_CLIENT_ID and KEYCLOAK_CLIENT_SECRET; the client must be confidential with "Service accounts roles" enabled',
  };
}

/** What to do when a read the service account needs `role` for failed with `error`. */
function readFailureFix(config: Config, error: unknown, role: string): string {
  return keycloakStatusOf(error) === 403
    ? `Assign realm-management ${role} to the service account of client "${config.keycloak.clientId}"`
    : 'Check KEYCLOAK_URL, the network path to Keycloak, and its health';
}

/** One user read the way `run` reads users: proves the view-users role in practice. */
async function usersCheck(config: Config, reader: KeycloakReader): Promise<CheckResult> {
  const users = reader.users();
  try {
    await users.next();
    return { name: 'Keycloak users readable', ok: true, detail: 'listed users' };
  } catch (error) {
    const status = keycloakStatusOf(error);
    return {
      name: 'Keycloak users readable',
      ok: false,
      detail:
        status === undefined
          ? `listing users failed: ${describeError(error)}`
          : `listing users answered HTTP ${status}`,
      fix: readFailureFix(config, error, 'view-users'),
    };
  } finally {
    await users.return();
  }
}

async function eventChecks(config: Config, reader: KeycloakReader): Promise<CheckResult[]> {
  let settings: RealmEventsConfig;
  try {
    settings = await reader.eventsConfig();
  } catch (error) {
    const status = keycloakStatusOf(error);
    return [
      {
        name: 'Keycloak event settings',
        ok: false,
        detail:
          status === undefined
            ? `reading the realm's event settings failed: ${describeError(error)}`
            : `reading the realm's event settings answered HTTP ${status}`,
        fix: readFailureFix(config, error, 'view-events'),
      },
    ];
  }
  const results: CheckResult[] = [];
  const adminStored = settings.adminEventsEnabled && settings.adminEventsDetailsEnabled;
  results.push(
    adminStored
      ? { name: 'Keycloak admin events', ok: true, detail: 'stored, with representations' }
      : {
          name: 'Keycloak admin events',
          ok: false,
          detail: `adminEventsEnabled=${String(settings.adminEventsEnabled)}, adminEventsDetailsEnabled=${String(settings.adminEventsDetailsEnabled)}`,
          fix: 'Realm settings > Events > Admin events settings: turn on "Save events" and "Include representation" (see keycloak-config/README.md)',
        },
  );

  if (config.source === 'amqp') {
    const hasListener = settings.eventsListeners.includes('keycloak-to-rabbitmq');
    results.push(
      hasListener
        ? { name: 'Keycloak RabbitMQ listener', ok: true, detail: 'keycloak-to-rabbitmq is on' }
        : {
            name: 'Keycloak RabbitMQ listener',
            ok: false,
            detail: 'the realm does not list the keycloak-to-rabbitmq event listener',
            fix: 'Install the listener jar in Keycloak and add "keycloak-to-rabbitmq" to Realm settings > Events > Event listeners',
          },
    );
  } else {
    const types = settings.enabledEventTypes;
    const needed = ['REGISTER', 'UPDATE_PROFILE', 'UPDATE_EMAIL', 'DELETE_ACCOUNT'].filter((type) =>
      USER_EVENT_TYPES.includes(type as (typeof USER_EVENT_TYPES)[number]),
    );
    // An empty list means "all types" to Keycloak.
    const missing = types.length === 0 ? [] : needed.filter((type) => !types.includes(type));
    const ok = settings.eventsEnabled && missing.length === 0;
    results.push(
      ok
        ? { name: 'Keycloak user events', ok: true, detail: `stored (${needed.join(', ')})` }
        : {
            name: 'Keycloak user events',
            ok: false,
            detail: settings.eventsEnabled
              ? `not stored: ${missing.join(', ')}`
              : 'user events are not stored (eventsEnabled=false)',
            fix: `Realm settings > Events > User events settings: turn on "Save events" and save ${needed.join(', ')}`,
          },
    );
  }
  return results;
}

async function checkRabbitMq(config: Config): Promise<CheckResult> {
  if (config.source !== 'amqp') throw new Error('unreachable: not in AMQP mode');
  try {
    const connection = await connect(config.amqp.url, {
      timeout: TIMEOUT_MS,
      ...amqpTrust(amqpCaOf(config)),
    });
    try {
      const channel = await connection.createChannel();
      await channel.checkExchange(config.amqp.exchange);
      await channel.close();
    } finally {
      await connection.close();
    }
    return {
      name: 'RabbitMQ',
      ok: true,
      detail: `connected; exchange "${config.amqp.exchange}" exists`,
    };
  } catch (error) {
    return {
      name: 'RabbitMQ',
      ok: false,
      detail: `cannot use RabbitMQ: ${describeError(error)}`,
      fix: 'Check AMQP_URL (host, port, vhost, credentials) and AMQP_EXCHANGE (the exchange the Keycloak listener publishes to)',
    };
  }
}

async function checkScim(config: Config): Promise<CheckResult[]> {
  const scim = scimClientFrom(
    config,
    {},
    {
      timeoutMs: Math.min(config.scim.timeoutMs, TIMEOUT_MS),
      maxConnections: 1,
      pageSize: 1,
      // A check reports what it finds; it does not wait out a struggling server.
      retry: { maxAttempts: 1, minDelayMs: 0, maxDelayMs: 0, maxElapsedMs: TIMEOUT_MS },
    },
  );
  try {
    // A listing needs the token and an enabled integration, unlike some discovery endpoints.
    await scim.listUsers()[Symbol.asyncIterator]().next();
    const results: CheckResult[] = [
      {
        name: 'SCIM endpoint',
        ok: true,
        detail: `${config.scim.url} reachable; token accepted; integration enabled`,
      },
    ];
    const summary = await scim.serviceProviderConfig();
    const problems: string[] = [];
    if (!summary.patch) problems.push('PATCH is not supported (memberships need it)');
    if (!summary.filter) problems.push('filtering is not supported (adoption by name needs it)');
    results.push({
      name: 'SCIM capabilities',
      ok: problems.length === 0,
      detail: `patch=${summary.patch}, filter=${summary.filter}${summary.filterMaxResults === undefined ? '' : ` (max ${summary.filterMaxResults})`}, bulk=${summary.bulk} (never used), changePassword=${summary.changePassword} (never used), etag=${summary.etag}, auth=${summary.authenticationSchemes.join('/') || 'unspecified'}${problems.length === 0 ? '' : `; ${problems.join('; ')}`}`,
      ...(problems.length === 0
        ? {}
        : { fix: 'The relay needs a SCIM server with PATCH and filters (Kestra has both)' }),
    });
    return results;
  } catch (error) {
    return [scimFailure(config, error)];
  } finally {
    await scim.close();
  }
}

function scimFailure(config: Config, error: unknown): CheckResult {
  if (error instanceof ScimError && error.status === 401) {
    return {
      name: 'SCIM endpoint',
      ok: false,
      detail: 'the SCIM token was refused (HTTP 401)',
      fix: 'Set SCIM_TOKEN (or SCIM_TOKEN_FILE) to the Secret Token Kestra showed when the provisioning integration was created; generate a new one there if it was lost',
    };
  }
  if (error instanceof ScimError && error.status === 403) {
    return {
      name: 'SCIM endpoint',
      ok: false,
      detail: `the integration refused the request (HTTP 403${error.detail === undefined ? '' : `: ${error.detail}`})`,
      fix: 'Enable the provisioning integration in Kestra (Tenant > IAM > SCIM Provisioning; Administration > IAM > Provisioning in older versions) and check the token belongs to it',
    };
  }
  if (error instanceof ScimError && error.status === 404) {
    return {
      name: 'SCIM endpoint',
      ok: false,
      detail: `no SCIM endpoint at ${config.scim.url} (HTTP 404)`,
      fix: 'SCIM_URL must be the integration URL Kestra shows: https://<kestra>/api/v1/<tenant>/integrations/<id>/scim/v2',
    };
  }
  return {
    name: 'SCIM endpoint',
    ok: false,
    detail: `cannot reach ${config.scim.url}: ${describeError(error)}`,
    fix: 'Check SCIM_URL, the network path to Kestra, and SCIM_CA_FILE for a private CA',
  };
}

/** The checklist as people read it. */
export function formatChecks(results: readonly CheckResult[]): string {
  const lines = results.map((r) => {
    const head = `${r.ok ? '✓' : '✗'} ${r.name}: ${r.detail}`;
    return r.ok || r.fix === undefined ? head : `${head}\n    fix: ${r.fix}`;
  });
  const failed = results.filter((r) => !r.ok).length;
  lines.push(failed === 0 ? 'All checks passed.' : `${failed} check(s) failed.`);
  return lines.join('\n');
}
