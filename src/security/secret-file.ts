import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorCode } from '../net-errors.js';

/**
 * A secret the relay sends (Keycloak's client secret, the SCIM bearer token) that may change
 * while the relay runs: Kubernetes updates a mounted Secret's file in place when it is rotated.
 */
export interface SecretSource {
  /** The value to send now. */
  current(): string;
  /**
   * Reads the secret again from where it came from; true when the value changed. A value given
   * directly (not from a file) never changes. A file that cannot be read, or is empty, keeps the
   * last good value: a half-written rotation must not blank the secret.
   */
  refresh(): boolean;
  /** Why the last refresh could not read the file, when it could not; no secret in it. */
  readonly problem: string | undefined;
  /** The file the secret comes from, when it comes from one. */
  readonly file: string | undefined;
}

/**
 * The secret a `<NAME>_FILE` holds: its content without the final line breaks, which editors
 * and `echo` add and which are not part of the secret. The configuration loader and a re-read
 * after a rotation read a file alike.
 */
export function secretInFile(content: string): string {
  return content.replace(/(?:\r?\n)+$/, '');
}

/** A secret that was given as a value: it changes only with a restart. */
export function fixedSecret(value: string): SecretSource {
  return {
    current: () => value,
    refresh: () => false,
    problem: undefined,
    file: undefined,
  };
}

/**
 * A secret read from `file`, starting from `initial` (the value the configuration loaded from
 * it). `refresh` re-reads the file, trimmed as the configuration loader trims it (final line
 * breaks dropped), and calls `onValue` with every new value before it is used, so that the
 * log redactor knows it before any line could show it.
 *
 * @param setting the `<NAME>_FILE` variable, named in `problem`
 */
export function fileSecret(
  file: string,
  initial: string,
  setting: string,
  onValue: (value: string) => void = () => undefined,
): SecretSource {
  let value = initial;
  let problem: string | undefined;
  onValue(initial);
  return {
    current: () => value,
    refresh() {
      let content: string;
      try {
        content = readFileSync(resolve(file), 'utf8');
      } catch (error) {
        problem = `${setting}: cannot read "${file}" (${errorCode(error) ?? String(error)}); still using the secret read before`;
        return false;
      }
      const read = secretInFile(content);
      if (read.trim() === '') {
        problem = `${setting}: "${file}" is empty; still using the secret read before`;
        return false;
      }
      problem = undefined;
      if (read === value) return false;
      onValue(read);
      value = read;
      return true;
    },
    get problem() {
      return problem;
    },
    file,
  };
}

/** A secret from its file when the configuration says it came from one, else the value itself. */
export function secretFrom(
  value: string,
  file: string | undefined,
  setting: string,
  onValue?: (value: string) => void,
): SecretSource {
  return file === undefined ? fixedSecret(value) : fileSecret(file, value, setting, onValue);
}
