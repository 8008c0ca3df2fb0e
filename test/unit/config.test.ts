import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  allSettings,
  type Config,
  exitOnConfigError,
  loadConfig,
  loadConfigOrExit,
  redactConfig,
  secretValues,
} from '../../src/config.js';
import { ConfigError, PermanentError } from '../../src/errors.js';

const TOKEN = 'scim-token-7f3a9c1e5b';
const CLIENT_SECRET = 'kc-client-secret-42d8e0';

/** The smallest valid environment: the required settings only. */
function minimalEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    KEYCLOAK_URL: 'http://localhost:8080',
    KEYCLOAK_REALM: 'acme',
    KEYCLOAK_CLIENT_SECRET: CLIENT_SECRET,
    SCIM_URL: 'https://kestra.example.com/api/v1/main/integrations/abc/scim/v2',
    SCIM_TOKEN: TOKEN,
    ...extra,
  };
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

/** The issue reported for one setting; fails when there is none or more than one. */
function issueFor(error: ConfigError, name: string): string {
  const found = error.issues.filter(
    (issue) => issue.startsWith(`${name}: `) || issue.startsWith(`${name} `),
  );
  expect(found, `issues for ${name} in:\n${error.message}`).toHaveLength(1);
  return found[0] ?? '';
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-config-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('defaults', () => {
  it('fills every optional and defaulted setting from the required ones alone', () => {
    const config = loadConfig(minimalEnv());
    expect(config).toEqual({
      keycloak: {
        url: 'http://localhost:8080',
        realm: 'acme',
        clientId: 'scim-relay',
        clientSecret: CLIENT_SECRET,
        caFile: undefined,
        pageSize: 100,
      },
      scim: {
        url: 'https://kestra.example.com/api/v1/main/integrations/abc/scim/v2',
        token: TOKEN,
        caFile: undefined,
        timeoutMs: 30_000,
        connectTimeoutMs: 10_000,
        maxConnections: 8,
        pageSize: 100,
        memberBatchSize: 100,
      },
      retry: { maxAttempts: 6, minDelayMs: 500, maxDelayMs: 30_000, maxElapsedMs: 120_000 },
      source: 'poll',
      eventSettleMs: 100,
      poll: { intervalMs: 5000 },
      amqp: {
        url: undefined,
        exchange: 'amq.topic',
        queue: 'keycloak-scim-relay.acme',
        prefetch: 64,
        maxDeliveries: 5,
        backstopIntervalMs: 30_000,
        caFile: undefined,
      },
      state: { dir: resolve('./state'), url: undefined },
      mapping: {
        usernameSource: 'username',
        groupNameSource: 'path',
        userDeleteMode: 'delete',
        membershipMode: 'direct',
      },
      sync: {
        concurrency: 4,
        resyncIntervalMs: 3_600_000,
        scimCheckIntervalMs: 60_000,
        scopeGroups: undefined,
        scopeGroupPath: undefined,
      },
      log: { level: 'info' },
      http: { host: undefined, port: 9464 },
    } satisfies Config);
  });

  it('derives the AMQP queue from the realm unless it is set', () => {
    expect(loadConfig(minimalEnv({ KEYCLOAK_REALM: 'other' })).amqp.queue).toBe(
      'keycloak-scim-relay.other',
    );
    expect(loadConfig(minimalEnv({ AMQP_QUEUE: 'mine' })).amqp.queue).toBe('mine');
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig(minimalEnv({ SCIM_PAGE_SIZE: '', KEYCLOAK_CA_FILE: '' }));
    expect(config.scim.pageSize).toBe(100);
    expect(config.keycloak.caFile).toBeUndefined();
  });

  it('defines each setting once, with a description and a default that passes its own schema', () => {
    const names = allSettings.map(({ setting }) => setting.env);
    expect(new Set(names).size).toBe(names.length);
    for (const { setting } of allSettings) {
      expect(setting.env).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(setting.description.length, setting.env).toBeGreaterThan(5);
      if (setting.fallback.kind === 'value') {
        expect(setting.kind.schema.safeParse(setting.fallback.raw).success, setting.env).toBe(true);
      }
    }
  });
});

describe('required settings', () => {
  it('lists every missing required setting in one error', () => {
    const error = configError(() => loadConfig({}));
    expect(error).toBeInstanceOf(PermanentError);
    for (const name of [
      'KEYCLOAK_URL',
      'KEYCLOAK_REALM',
      'KEYCLOAK_CLIENT_SECRET',
      'SCIM_URL',
      'SCIM_TOKEN',
    ]) {
      expect(issueFor(error, name)).toMatch(/is required; expected .+/);
    }
    // The queue derives from the missing realm: only the realm is reported.
    expect(error.issues).toHaveLength(5);
  });
});

describe('whole numbers', () => {
  it.each([
    ['abc', 'is not a whole number'],
    ['1.5', 'is not a whole number'],
    ['1e3', 'is not a whole number'],
    ['30s', 'is not a whole number'],
    ['999', 'is below 1000'],
    ['600001', 'is above 600000'],
  ])('refuses SCIM_TIMEOUT_MS=%s with "%s" and the accepted range', (value, problem) => {
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ SCIM_TIMEOUT_MS: value }))),
      'SCIM_TIMEOUT_MS',
    );
    expect(issue).toContain(problem);
    expect(issue).toContain(`(got "${value}")`);
    expect(issue).toContain('expected a whole number from 1000 to 600000 milliseconds');
  });

  it('accepts the bounds themselves and surrounding spaces', () => {
    expect(loadConfig(minimalEnv({ SCIM_TIMEOUT_MS: '1000' })).scim.timeoutMs).toBe(1000);
    expect(loadConfig(minimalEnv({ SCIM_TIMEOUT_MS: ' 600000 ' })).scim.timeoutMs).toBe(600_000);
    expect(loadConfig(minimalEnv({ HTTP_PORT: '0' })).http.port).toBe(0);
  });

  it('accepts 0 to switch the periodic resync off, but no period under a second', () => {
    expect(loadConfig(minimalEnv({ RESYNC_INTERVAL_MS: '0' })).sync.resyncIntervalMs).toBe(0);
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ RESYNC_INTERVAL_MS: '10' }))),
      'RESYNC_INTERVAL_MS',
    );
    expect(issue).toContain('is below 1000 but not 0');
  });
});

describe('retry delays', () => {
  // The work queue waits by these between runs of a failing change: they are refused below
  // their minimum rather than raised to it behind the operator's back.
  it.each([
    ['RETRY_MIN_DELAY_MS', '99', 'is below 100', 'a whole number from 100 to 3600000 milliseconds'],
    ['RETRY_MIN_DELAY_MS', '0', 'is below 100', 'a whole number from 100 to 3600000 milliseconds'],
    [
      'RETRY_MAX_DELAY_MS',
      '999',
      'is below 1000',
      'a whole number from 1000 to 3600000 milliseconds',
    ],
  ])('refuses %s=%s, naming it', (name, value, problem, expected) => {
    const error = configError(() => loadConfig(minimalEnv({ [name]: value })));
    expect(error.issues).toEqual([`${name}: ${problem} (got "${value}"); expected ${expected}`]);
  });

  it('uses the minimums themselves as given', () => {
    const config = loadConfig(
      minimalEnv({ RETRY_MIN_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '1000' }),
    );
    expect(config.retry).toMatchObject({ minDelayMs: 100, maxDelayMs: 1000 });
  });
});

describe('URLs', () => {
  it('drops trailing slashes so paths can be appended', () => {
    const config = loadConfig(
      minimalEnv({
        KEYCLOAK_URL: 'https://sso.example.com/',
        SCIM_URL: 'http://scim:8081/scim/v2//',
      }),
    );
    expect(config.keycloak.url).toBe('https://sso.example.com');
    expect(config.scim.url).toBe('http://scim:8081/scim/v2');
  });

  it.each([
    ['KEYCLOAK_URL', 'localhost:8080', 'has scheme "localhost:" instead of http: or https:'],
    ['KEYCLOAK_URL', 'not a url', 'is not a URL'],
    ['SCIM_URL', 'ftp://kestra/scim/v2', 'has scheme "ftp:"'],
    ['SCIM_URL', 'https://kestra/scim/v2?x=1', 'must not contain a query or fragment'],
    ['KEYCLOAK_URL', 'https://admin:hunter22@sso', 'must not contain a user name or password'],
  ])('refuses %s=%s', (name, value, problem) => {
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ [name]: value }))),
      name,
    );
    expect(issue).toContain(problem);
    expect(issue).toContain('expected an http(s) URL');
  });

  it('masks a password in an echoed URL', () => {
    const error = configError(() =>
      loadConfig(minimalEnv({ KEYCLOAK_URL: 'https://admin:hunter22@sso' })),
    );
    expect(error.message).not.toContain('hunter22');
    expect(issueFor(error, 'KEYCLOAK_URL')).toContain('https://admin:***@sso');
  });
});

describe('choices', () => {
  it('accepts each listed word and refuses others, naming the choices', () => {
    expect(loadConfig(minimalEnv({ USERNAME_SOURCE: 'email' })).mapping.usernameSource).toBe(
      'email',
    );
    expect(loadConfig(minimalEnv({ LOG_LEVEL: 'debug' })).log.level).toBe('debug');
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ MEMBERSHIP_MODE: 'all' }))),
      'MEMBERSHIP_MODE',
    );
    expect(issue).toContain('(got "all")');
    expect(issue).toContain('expected one of direct, inherited');
  });

  it('refuses a queue name in the broker-reserved amq. namespace', () => {
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ AMQP_QUEUE: 'amq.relay' }))),
      'AMQP_QUEUE',
    );
    expect(issue).toContain('reserved prefix "amq."');
  });
});

describe('cross-field rules', () => {
  it('requires AMQP_URL when SOURCE=amqp and types it as set', () => {
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ SOURCE: 'amqp' }))),
      'AMQP_URL',
    );
    expect(issue).toBe(
      'AMQP_URL: is required when SOURCE=amqp; expected an amqp:// or amqps:// URL',
    );

    const config = loadConfig(
      minimalEnv({ SOURCE: 'amqp', AMQP_URL: 'amqp://relay:pw-1234@rabbit:5672/kc' }),
    );
    expect(config.source).toBe('amqp');
    if (config.source !== 'amqp') throw new Error('narrowing failed');
    const url: string = config.amqp.url;
    expect(url).toBe('amqp://relay:pw-1234@rabbit:5672/kc');
  });

  it('refuses a minimum retry delay above the maximum', () => {
    const issue = issueFor(
      configError(() =>
        loadConfig(minimalEnv({ RETRY_MIN_DELAY_MS: '5000', RETRY_MAX_DELAY_MS: '1000' })),
      ),
      'RETRY_MIN_DELAY_MS',
    );
    expect(issue).toContain('above RETRY_MAX_DELAY_MS (1000)');
    expect(
      loadConfig(minimalEnv({ RETRY_MIN_DELAY_MS: '1000', RETRY_MAX_DELAY_MS: '1000' })).retry,
    ).toMatchObject({ minDelayMs: 1000, maxDelayMs: 1000 });
  });

  it('does not judge a rule on a setting whose source failed', () => {
    const missing = join(dir, 'no-amqp-url');
    const error = configError(() =>
      loadConfig(minimalEnv({ SOURCE: 'amqp', AMQP_URL_FILE: missing })),
    );
    expect(error.issues).toEqual([
      `AMQP_URL_FILE: cannot read "${missing}" (ENOENT); expected a readable file`,
    ]);
  });

  it('refuses a realm whose derived AMQP queue name would be too long, unless AMQP_QUEUE is set', () => {
    const realm = 'r'.repeat(240);
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ KEYCLOAK_REALM: realm }))),
      'AMQP_QUEUE',
    );
    expect(issue).toContain('longer than 255 bytes');
    expect(issue).toContain('keycloak-scim-relay.<KEYCLOAK_REALM>');
    expect(loadConfig(minimalEnv({ KEYCLOAK_REALM: realm, AMQP_QUEUE: 'relay' })).amqp.queue).toBe(
      'relay',
    );
  });

  it('does not judge a rule on a value that is itself invalid', () => {
    const error = configError(() =>
      loadConfig(minimalEnv({ SOURCE: 'amqp', AMQP_URL: 'http://rabbit' })),
    );
    expect(error.issues).toHaveLength(1);
    expect(issueFor(error, 'AMQP_URL')).toContain('is not an amqp:// or amqps:// URL');
  });
});

describe('all problems at once', () => {
  it('reports field, file and cross-field problems in one ConfigError', () => {
    const error = configError(() =>
      loadConfig(
        minimalEnv({
          KEYCLOAK_URL: 'ftp://sso',
          SCIM_TOKEN: undefined,
          SCIM_PAGE_SIZE: '0',
          SOURCE: 'kafka',
          RETRY_MIN_DELAY_MS: '9000',
          RETRY_MAX_DELAY_MS: '1000',
          KEYCLOAK_CLIENT_SECRET: 'inline',
          KEYCLOAK_CLIENT_SECRET_FILE: join(dir, 'secret'),
          CONFIG_FILE: join(dir, 'missing.json'),
        }),
      ),
    );
    expect(error.issues.map((issue) => issue.split(/[: ]/)[0])).toEqual([
      'CONFIG_FILE',
      'KEYCLOAK_URL',
      'KEYCLOAK_CLIENT_SECRET',
      'SCIM_TOKEN',
      'SCIM_PAGE_SIZE',
      'SOURCE',
      'RETRY_MIN_DELAY_MS',
    ]);
    expect(error.message.split('\n')[0]).toBe('Invalid configuration:');
    expect(error.message.split('\n')).toHaveLength(8);
  });
});

describe('secrets from <NAME>_FILE', () => {
  it('reads the file and drops trailing newlines only', () => {
    const path = writeFile('token', `  ${TOKEN}\n\n`);
    const config = loadConfig(minimalEnv({ SCIM_TOKEN: undefined, SCIM_TOKEN_FILE: path }));
    expect(config.scim.token).toBe(`  ${TOKEN}`);
  });

  it('keeps the resolved path of a secret read from a file, so it can be read again', () => {
    const tokenPath = writeFile('token', TOKEN);
    const secretPath = writeFile('secret', CLIENT_SECRET);
    const config = loadConfig(
      minimalEnv({
        SCIM_TOKEN: undefined,
        SCIM_TOKEN_FILE: tokenPath,
        KEYCLOAK_CLIENT_SECRET: undefined,
        KEYCLOAK_CLIENT_SECRET_FILE: secretPath,
      }),
    );
    expect(config.scim.tokenFile).toBe(resolve(tokenPath));
    expect(config.keycloak.clientSecretFile).toBe(resolve(secretPath));
    const direct = loadConfig(minimalEnv());
    expect(direct.scim).not.toHaveProperty('tokenFile');
    expect(direct.keycloak).not.toHaveProperty('clientSecretFile');
  });

  it('reads CRLF files', () => {
    const path = writeFile('secret', `${CLIENT_SECRET}\r\n`);
    const config = loadConfig(
      minimalEnv({ KEYCLOAK_CLIENT_SECRET: undefined, KEYCLOAK_CLIENT_SECRET_FILE: path }),
    );
    expect(config.keycloak.clientSecret).toBe(CLIENT_SECRET);
  });

  it('refuses NAME and NAME_FILE together', () => {
    const path = writeFile('token', TOKEN);
    const error = configError(() => loadConfig(minimalEnv({ SCIM_TOKEN_FILE: path })));
    expect(issueFor(error, 'SCIM_TOKEN')).toBe(
      'SCIM_TOKEN and SCIM_TOKEN_FILE are both set; expected only one of them',
    );
    expect(error.message).not.toContain(TOKEN);
  });

  it('names the variable and the path of a file it cannot read, never its content', () => {
    const missing = join(dir, 'nope');
    const error = configError(() =>
      loadConfig(minimalEnv({ SCIM_TOKEN: undefined, SCIM_TOKEN_FILE: missing })),
    );
    expect(issueFor(error, 'SCIM_TOKEN_FILE')).toBe(
      `SCIM_TOKEN_FILE: cannot read "${missing}" (ENOENT); expected a readable file`,
    );
  });

  it('refuses an empty file', () => {
    const path = writeFile('empty', '\n');
    const error = configError(() =>
      loadConfig(minimalEnv({ SCIM_TOKEN: undefined, SCIM_TOKEN_FILE: path })),
    );
    expect(issueFor(error, 'SCIM_TOKEN_FILE')).toContain('is empty');
  });

  it('reads a directory path as a failure, not as a secret', () => {
    const error = configError(() =>
      loadConfig(minimalEnv({ SCIM_TOKEN: undefined, SCIM_TOKEN_FILE: dir })),
    );
    expect(issueFor(error, 'SCIM_TOKEN_FILE')).toContain('(EISDIR)');
  });

  it('is offered for secrets only', () => {
    const path = writeFile('realm', 'from-file');
    const config = loadConfig(minimalEnv({ KEYCLOAK_REALM_FILE: path }));
    expect(config.keycloak.realm).toBe('acme');
  });
});

describe('config file', () => {
  it('sits between the environment and the defaults', () => {
    const path = writeFile(
      'relay.json',
      JSON.stringify({ SCIM_PAGE_SIZE: 50, SCIM_TIMEOUT_MS: '20000', CONCURRENCY: 2 }),
    );
    const config = loadConfig(minimalEnv({ CONFIG_FILE: path, SCIM_PAGE_SIZE: '25' }));
    expect(config.scim.pageSize).toBe(25);
    expect(config.scim.timeoutMs).toBe(20_000);
    expect(config.sync.concurrency).toBe(2);
    expect(config.scim.maxConnections).toBe(8);
  });

  it('can hold every setting, secrets and their _FILE included', () => {
    const tokenPath = writeFile('token', `${TOKEN}\n`);
    const path = writeFile(
      'relay.json',
      JSON.stringify({
        KEYCLOAK_URL: 'http://kc:8080',
        KEYCLOAK_REALM: 'acme',
        KEYCLOAK_CLIENT_SECRET: CLIENT_SECRET,
        SCIM_URL: 'http://scim/scim/v2',
        SCIM_TOKEN_FILE: tokenPath,
        HTTP_HOST: null,
      }),
    );
    const config = loadConfig({ CONFIG_FILE: path });
    expect(config.keycloak.clientSecret).toBe(CLIENT_SECRET);
    expect(config.scim.token).toBe(TOKEN);
    expect(config.http.host).toBeUndefined();
  });

  it('lets the environment override a secret that the file sets through _FILE', () => {
    const tokenPath = writeFile('token', 'file-token-value');
    const path = writeFile('relay.json', JSON.stringify({ SCIM_TOKEN_FILE: tokenPath }));
    expect(loadConfig(minimalEnv({ CONFIG_FILE: path })).scim.token).toBe(TOKEN);
  });

  it('refuses NAME and NAME_FILE together in the file', () => {
    const path = writeFile(
      'relay.json',
      JSON.stringify({ SCIM_TOKEN: TOKEN, SCIM_TOKEN_FILE: join(dir, 'token') }),
    );
    const error = configError(() =>
      loadConfig(minimalEnv({ SCIM_TOKEN: undefined, CONFIG_FILE: path })),
    );
    expect(issueFor(error, 'SCIM_TOKEN')).toContain('are both set in the config file');
  });

  it('says which values came from the file', () => {
    const path = writeFile('relay.json', JSON.stringify({ SCIM_PAGE_SIZE: 5000 }));
    const issue = issueFor(
      configError(() => loadConfig(minimalEnv({ CONFIG_FILE: path }))),
      'SCIM_PAGE_SIZE',
    );
    expect(issue).toBe(
      'SCIM_PAGE_SIZE: is above 1000 (got "5000"), from the config file; expected a whole number from 1 to 1000',
    );
  });

  it('refuses values of the wrong JSON type', () => {
    const path = writeFile('relay.json', JSON.stringify({ KEYCLOAK_REALM: 7, HTTP_PORT: true }));
    const error = configError(() =>
      loadConfig(minimalEnv({ KEYCLOAK_REALM: undefined, CONFIG_FILE: path })),
    );
    expect(issueFor(error, 'KEYCLOAK_REALM')).toContain('is not text');
    expect(issueFor(error, 'HTTP_PORT')).toContain('is not a whole number');
  });

  it('refuses unknown keys, so a typo does not go unnoticed', () => {
    const path = writeFile(
      'relay.json',
      JSON.stringify({ SCIM_PAGESIZE: 10, KEYCLOAK_REALM_FILE: 'x' }),
    );
    const error = configError(() => loadConfig(minimalEnv({ CONFIG_FILE: path })));
    expect(error.issues).toEqual([
      `CONFIG_FILE: "${path}" sets unknown setting "SCIM_PAGESIZE"`,
      `CONFIG_FILE: "${path}" sets unknown setting "KEYCLOAK_REALM_FILE"`,
    ]);
  });

  it('reports broken JSON by position, without quoting the file', () => {
    const path = writeFile('relay.json', `{\n  "SCIM_TOKEN": ${TOKEN}\n}`);
    const error = configError(() => loadConfig(minimalEnv({ CONFIG_FILE: path })));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(new RegExp(`^CONFIG_FILE: "${path}" is not valid JSON`));
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).not.toContain('scim-token');
  });

  it('refuses a file that does not hold an object', () => {
    const path = writeFile('relay.json', '["SCIM_TOKEN"]');
    const error = configError(() => loadConfig(minimalEnv({ CONFIG_FILE: path })));
    expect(issueFor(error, 'CONFIG_FILE')).toContain('does not hold a JSON object');
  });

  it('reports a missing file', () => {
    const path = join(dir, 'absent.json');
    const error = configError(() => loadConfig(minimalEnv({ CONFIG_FILE: path })));
    expect(error.issues).toEqual([`CONFIG_FILE: cannot read "${path}" (ENOENT)`]);
  });

  it('takes the file from options ahead of CONFIG_FILE', () => {
    const chosen = writeFile('chosen.json', JSON.stringify({ CONCURRENCY: 9 }));
    const config = loadConfig(minimalEnv({ CONFIG_FILE: join(dir, 'absent.json') }), {
      configFile: chosen,
    });
    expect(config.sync.concurrency).toBe(9);
  });
});

describe('CA files', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('accepts a PEM bundle and resolves its path', () => {
    writeFile('ca.pem', pem);
    const config = loadConfig(minimalEnv({ SCIM_CA_FILE: join(dir, 'ca.pem') }));
    expect(config.scim.caFile).toBe(join(dir, 'ca.pem'));
  });

  it('refuses a file without a certificate, and one that is missing', () => {
    const notPem = writeFile('key.txt', 'hello');
    const error = configError(() =>
      loadConfig(minimalEnv({ KEYCLOAK_CA_FILE: notPem, AMQP_CA_FILE: join(dir, 'none.pem') })),
    );
    expect(issueFor(error, 'KEYCLOAK_CA_FILE')).toContain('holds no PEM certificate');
    expect(issueFor(error, 'AMQP_CA_FILE')).toContain('cannot be read: ENOENT');
  });
});

describe('secrets never appear in errors', () => {
  it('does not echo an invalid secret', () => {
    const amqpUrl = 'http://relay:rabbit-pw-991@rabbit';
    const error = configError(() =>
      loadConfig(minimalEnv({ SOURCE: 'amqp', AMQP_URL: amqpUrl, SCIM_TOKEN: '   ' })),
    );
    expect(issueFor(error, 'AMQP_URL')).toBe(
      'AMQP_URL: is not an amqp:// or amqps:// URL with a host; expected an amqp:// or amqps:// URL such as amqp://user:pass@host:5672/vhost',
    );
    expect(issueFor(error, 'SCIM_TOKEN')).toBe('SCIM_TOKEN: is blank; expected a non-empty secret');
    expect(error.message).not.toContain('rabbit-pw-991');
  });

  it('blanks a secret pasted into a setting that is not secret', () => {
    const error = configError(() => loadConfig(minimalEnv({ CONCURRENCY: TOKEN })));
    expect(error.message).not.toContain(TOKEN);
    expect(issueFor(error, 'CONCURRENCY')).toContain('(got "[REDACTED]")');
  });
});

describe('redactConfig and secretValues', () => {
  const amqpUrl = 'amqp://relay:p%40ss-word@rabbit:5672/kc';
  const config = (): Config => loadConfig(minimalEnv({ SOURCE: 'amqp', AMQP_URL: amqpUrl }));

  it('shows everything but the secrets', () => {
    const shown = redactConfig(config());
    expect(shown).toMatchObject({
      keycloak: { clientSecret: '[REDACTED]', realm: 'acme', caFile: undefined },
      scim: { token: '[REDACTED]', pageSize: 100 },
      amqp: { url: '[REDACTED]' },
    });
    expect(JSON.stringify(shown)).not.toContain(TOKEN);
  });

  it('lists every secret, and a URL password alone, as written and decoded', () => {
    expect(secretValues(config()).sort()).toEqual(
      [CLIENT_SECRET, TOKEN, amqpUrl, 'p%40ss-word', 'p@ss-word'].sort(),
    );
  });
});

describe('exitOnConfigError', () => {
  class Exited extends Error {
    constructor(readonly code: number) {
      super(`exit ${code}`);
    }
  }
  function fakeIo(): { stderr: string[]; io: Parameters<typeof exitOnConfigError>[1] } {
    const stderr: string[] = [];
    return {
      stderr,
      io: {
        writeStderr: (text) => stderr.push(text),
        exit: (code) => {
          throw new Exited(code);
        },
      },
    };
  }

  it('prints the list to stderr and exits with code 2', () => {
    const { stderr, io } = fakeIo();
    const thrown = (() => {
      try {
        return loadConfigOrExit({}, {}, io);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(Exited);
    expect(thrown).toHaveProperty('code', 2);
    expect(stderr.join('')).toMatch(/^Invalid configuration:\n {2}- KEYCLOAK_URL: is required/);
  });

  it('rethrows anything that is not a ConfigError', () => {
    const { stderr, io } = fakeIo();
    const bug = new TypeError('boom');
    expect(() => exitOnConfigError(bug, io)).toThrow(bug);
    expect(stderr).toEqual([]);
  });

  it('returns the configuration when it is valid', () => {
    const { io } = fakeIo();
    expect(loadConfigOrExit(minimalEnv(), {}, io).keycloak.realm).toBe('acme');
  });
});

describe('provisioning scope settings', () => {
  const base = {
    KEYCLOAK_URL: 'http://localhost:8080',
    KEYCLOAK_REALM: 'demo',
    KEYCLOAK_CLIENT_SECRET: 'secret-value',
    SCIM_URL: 'https://kestra.example.com/api/v1/main/integrations/x/scim/v2',
    SCIM_TOKEN: 'token-value',
  };

  it('reads group paths separated by commas, trimmed, without trailing slashes', () => {
    const config = loadConfig({
      ...base,
      SCOPE_GROUPS: ' /staff , /contractors/kestra/ ',
      SCOPE_GROUP_PATH: '/kestra/',
    });
    expect(config.sync.scopeGroups).toEqual(['/staff', '/contractors/kestra']);
    expect(config.sync.scopeGroupPath).toBe('/kestra');
  });

  it('names a value that is not a group path', () => {
    expect(() =>
      loadConfig({ ...base, SCOPE_GROUPS: 'staff', SCOPE_GROUP_PATH: 'kestra' }),
    ).toThrow(
      /SCOPE_GROUPS: holds a value that is not a group path[\s\S]*SCOPE_GROUP_PATH: is not a group path/,
    );
  });
});
