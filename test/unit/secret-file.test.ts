import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileSecret, fixedSecret, secretFrom } from '../../src/security/secret-file.js';

describe('secrets that may be rotated in their file', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'secret-file-'));
    file = join(dir, 'client-secret');
    writeFileSync(file, 'first-secret\n');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts from the value the configuration read and tells each new value before it is used', () => {
    const told: string[] = [];
    const secret = fileSecret(file, 'first-secret', 'KEYCLOAK_CLIENT_SECRET_FILE', (value) =>
      told.push(value),
    );
    expect(secret.current()).toBe('first-secret');
    expect(secret.file).toBe(file);
    expect(secret.refresh()).toBe(false);

    writeFileSync(file, 'second-secret\r\n\n');
    expect(secret.refresh()).toBe(true);
    expect(secret.current()).toBe('second-secret');
    expect(secret.refresh()).toBe(false);
    expect(told).toEqual(['first-secret', 'second-secret']);
  });

  it('keeps the last good value when the file is gone or empty, and says why, without the secret', () => {
    const secret = fileSecret(file, 'first-secret', 'SCIM_TOKEN_FILE');
    writeFileSync(file, '\n');
    expect(secret.refresh()).toBe(false);
    expect(secret.current()).toBe('first-secret');
    expect(secret.problem).toBe(
      `SCIM_TOKEN_FILE: "${file}" is empty; still using the secret read before`,
    );

    rmSync(file);
    expect(secret.refresh()).toBe(false);
    expect(secret.current()).toBe('first-secret');
    expect(secret.problem).toMatch(/^SCIM_TOKEN_FILE: cannot read ".*" \(ENOENT\)/);
    expect(secret.problem).not.toContain('first-secret');

    writeFileSync(file, 'third-secret');
    expect(secret.refresh()).toBe(true);
    expect(secret.problem).toBeUndefined();
    expect(secret.current()).toBe('third-secret');
  });

  it('never changes a secret given directly', () => {
    const secret = fixedSecret('given');
    expect(secret.refresh()).toBe(false);
    expect(secret.current()).toBe('given');
    expect(secret.file).toBeUndefined();
    expect(secretFrom('given', undefined, 'SCIM_TOKEN_FILE').file).toBeUndefined();
    expect(secretFrom('first-secret', file, 'SCIM_TOKEN_FILE').file).toBe(file);
  });
});
