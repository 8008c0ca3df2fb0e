import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../packages/scim-server/src/errors.js';
import { USAGE, parseScimServerArgs } from '../../packages/scim-server/src/cli-args.js';

const noFiles = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
};

function configError(argv: string[], readFile = noFiles): ConfigError {
  try {
    parseScimServerArgs(argv, readFile);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('the arguments were accepted');
}

describe('parseScimServerArgs', () => {
  it('reads every option', () => {
    const command = parseScimServerArgs(
      [
        '--port=8081',
        '--host',
        '0.0.0.0',
        '--token',
        'tok',
        '--tenant',
        'acme',
        '--integration',
        'kc',
        '--max-page-size',
        '50',
        '--test-api',
      ],
      noFiles,
    );
    expect(command).toEqual({
      kind: 'start',
      options: {
        port: 8081,
        host: '0.0.0.0',
        token: 'tok',
        tenant: 'acme',
        integrationId: 'kc',
        maxPageSize: 50,
        testApi: true,
      },
    });
  });

  it('leaves defaults to the server and the test API off', () => {
    expect(parseScimServerArgs(['--token', 't'], noFiles)).toEqual({
      kind: 'start',
      options: { token: 't', testApi: false },
    });
  });

  it('reads the token from the first line of a token file', () => {
    const command = parseScimServerArgs(['--token-file', '/run/secret'], (path) =>
      path === '/run/secret' ? '  from-file  \nsecond line\n' : noFiles(path),
    );
    expect(command).toMatchObject({ kind: 'start', options: { token: 'from-file' } });
  });

  it('answers help', () => {
    expect(parseScimServerArgs(['--help'], noFiles)).toEqual({ kind: 'help' });
  });

  it('reports every problem at once and never echoes the token', () => {
    const error = configError(['--token', 'secret-value', '--token-file', 'f', '--port', 'x']);
    expect(error.issues).toEqual([
      '--port: "x" is not a whole number',
      '--token and --token-file: give only one of them',
    ]);
    expect(error.message).not.toContain('secret-value');
  });

  it('requires a token', () => {
    expect(configError([]).issues).toEqual(['--token or --token-file: a Bearer token is required']);
  });

  it('names an unreadable or empty token file', () => {
    expect(configError(['--token-file', '/nope']).issues[0]).toContain(
      'cannot read "/nope" (ENOENT)',
    );
    expect(configError(['--token-file', 'empty'], () => '\n').issues[0]).toContain(
      'holds no token',
    );
  });

  it('refuses unknown options', () => {
    expect(configError(['--token', 't', '--verbose']).issues[0]).toContain('--verbose');
  });
});

describe('parseScimServerArgs: profiles', () => {
  it('reads --profile and --patch-delay-ms', () => {
    expect(
      parseScimServerArgs(
        ['--token', 't', '--profile', 'generic', '--patch-delay-ms', '50'],
        noFiles,
      ),
    ).toEqual({
      kind: 'start',
      options: { token: 't', testApi: false, profile: 'generic', patchDelayMs: 50 },
    });
    expect(parseScimServerArgs(['--token', 't', '--profile=kestra'], noFiles)).toEqual({
      kind: 'start',
      options: { token: 't', testApi: false, profile: 'kestra' },
    });
  });

  it('refuses an unknown profile, a bad delay, and a delay without the generic profile', () => {
    expect(configError(['--token', 't', '--profile', 'okta']).issues).toEqual([
      '--profile: "okta" is not one of kestra, generic',
    ]);
    expect(
      configError(['--token', 't', '--profile', 'generic', '--patch-delay-ms', '1.5']).issues,
    ).toEqual(['--patch-delay-ms: "1.5" is not a whole number']);
    expect(configError(['--token', 't', '--patch-delay-ms', '10']).issues).toEqual([
      '--patch-delay-ms: only applies with --profile generic',
    ]);
  });

  it('documents both flags in the usage text', () => {
    expect(USAGE).toContain('--profile <name>');
    expect(USAGE).toContain('--patch-delay-ms <ms>');
  });
});
