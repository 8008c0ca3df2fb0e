import { parseArgs } from 'node:util';
import { ConfigError } from './errors.js';
import { PROFILE_NAMES, type ProfileName } from './profile.js';
import type { ScimServerOptions } from './server.js';

/** Usage text for `npm run scim-server -- --help`. */
export const USAGE = `Usage: npm run scim-server -- --token <token> [options]

A Kestra-compatible SCIM 2.0 server with its state in memory.

  --port <port>            TCP port (default 0: a free port)
  --host <host>            interface to listen on (default 127.0.0.1)
  --token <token>          Bearer token clients must send
  --token-file <path>      read the token from this file instead (first line)
  --tenant <tenant>        tenant in the base path (default main)
  --integration <id>       integration id in the base path (default demo)
  --max-page-size <n>      largest page a list answers (default 100)
  --test-api               serve the inspection and fault API under /_test/
  --web                    serve a read-only page listing users and groups at /
  --profile <name>         kestra (default): behave as Kestra's SCIM endpoint
                           generic: a plain RFC 7644 server, unlike Kestra: PATCH reads,
                             waits, then writes the whole resource back without a lock
                             (concurrent PATCHes can lose updates); "userName eq" is
                             case-sensitive (uniqueness is not); PUT clears every attribute
                             it omits, extra ones (title, phoneNumbers...) included; ETags
                             (meta.version, ETag, If-Match -> 412); "externalId" filters
                             answer 400; POST answers 201 with Location and no body; PATCH
                             answers 200 with the resource; DELETE really deletes a user;
                             attribute names in resources and lists are lower-case
  --patch-delay-ms <ms>    generic only: wait between a PATCH's read and its write
                           (default 0, which still lets concurrent requests interleave)
  --help                   show this text`;

/** What the command line asks for: server options, or just the usage text. */
export type ScimServerCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'start'; readonly options: ScimServerOptions & { testApi: boolean } };

function integerOption(
  value: string | undefined,
  name: string,
  issues: string[],
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    issues.push(`--${name}: "${value}" is not a whole number`);
    return undefined;
  }
  return Number(value);
}

/**
 * Parses the command line. Every problem is collected so one run reports them all; the token
 * itself never appears in a message. `readFile` is injected to keep this testable without files.
 */
export function parseScimServerArgs(
  argv: readonly string[],
  readFile: (path: string) => string,
): ScimServerCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        tenant: { type: 'string' },
        integration: { type: 'string' },
        'max-page-size': { type: 'string' },
        'test-api': { type: 'boolean', default: false },
        web: { type: 'boolean', default: false },
        profile: { type: 'string' },
        'patch-delay-ms': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new ConfigError([error instanceof Error ? error.message : String(error)]);
  }
  if (values.help) return { kind: 'help' };

  const issues: string[] = [];
  const port = integerOption(values.port, 'port', issues);
  const maxPageSize = integerOption(values['max-page-size'], 'max-page-size', issues);
  const patchDelayMs = integerOption(values['patch-delay-ms'], 'patch-delay-ms', issues);
  const profileName = values.profile;
  const profile: ProfileName | undefined = PROFILE_NAMES.find((name) => name === profileName);
  if (profileName !== undefined && profile === undefined) {
    issues.push(`--profile: "${profileName}" is not one of ${PROFILE_NAMES.join(', ')}`);
  }
  if (patchDelayMs !== undefined && profile !== 'generic') {
    issues.push('--patch-delay-ms: only applies with --profile generic');
  }
  let token = values.token;
  const tokenFile = values['token-file'];
  if (token !== undefined && tokenFile !== undefined) {
    issues.push('--token and --token-file: give only one of them');
  } else if (tokenFile !== undefined) {
    try {
      token = readFile(tokenFile).split(/\r?\n/, 1)[0]?.trim();
    } catch (error) {
      const code = error instanceof Error && 'code' in error ? String(error.code) : 'error';
      issues.push(`--token-file: cannot read "${tokenFile}" (${code})`);
    }
    if (token === '') issues.push(`--token-file: "${tokenFile}" holds no token on its first line`);
  } else if (token === undefined) {
    issues.push('--token or --token-file: a Bearer token is required');
  }
  if (issues.length > 0 || token === undefined || token === '') throw new ConfigError(issues);

  return {
    kind: 'start',
    options: {
      token,
      testApi: values['test-api'],
      ...(values.web ? { web: true } : {}),
      ...(port === undefined ? {} : { port }),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
      ...(values.integration === undefined ? {} : { integrationId: values.integration }),
      ...(maxPageSize === undefined ? {} : { maxPageSize }),
      ...(profile === undefined ? {} : { profile }),
      ...(patchDelayMs === undefined ? {} : { patchDelayMs }),
    },
  };
}
