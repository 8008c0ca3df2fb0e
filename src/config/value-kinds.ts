import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * What a setting's value must look like: a zod schema from a raw value (an environment string,
 * or a JSON value from the config file) to the typed value, and the phrase that completes
 * "expected ..." in errors and the README. Issue messages read after the setting's name and
 * never contain the input, so the same kinds serve secrets.
 */
export interface ValueKind<T> {
  readonly schema: z.ZodType<T>;
  readonly expected: string;
}

const kind = <T>(expected: string, schema: z.ZodType<T>): ValueKind<T> => ({ expected, schema });
const str = (): z.ZodString => z.string('is not text');
const nonEmpty = (): z.ZodString => str().trim().min(1, 'is empty');

/** Free text, trimmed, non-empty. */
export const text = (max = 255): ValueKind<string> =>
  kind(
    `non-empty text of at most ${max} characters`,
    nonEmpty().max(max, `is longer than ${max} characters`),
  );

/** A token, password or client secret: taken verbatim (no trimming), never blank. */
export const secretText = (): ValueKind<string> =>
  kind('a non-empty secret', str().min(1, 'is empty').regex(/\S/, 'is blank'));

/** One of a fixed set of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): ValueKind<T[number]> {
  const list = values.join(', ');
  return kind(
    `one of ${list}`,
    str()
      .trim()
      .pipe(z.enum(values, `is not one of ${list}`)),
  );
}

const isGroupPath = (value: string): boolean => value.startsWith('/') && value.length > 1;
const withoutTrailingSlash = (value: string): string => value.replace(/\/+$/, '');

/** A Keycloak group path such as `/engineering/backend`, without a trailing slash. */
export const groupPath = (): ValueKind<string> =>
  kind(
    'a Keycloak group path such as /kestra',
    str()
      .trim()
      .refine(isGroupPath, 'is not a group path like /team')
      .transform(withoutTrailingSlash),
  );

/** Group paths separated by commas (in the config file also a JSON array). */
export const groupPathList = (): ValueKind<readonly string[]> =>
  kind(
    'Keycloak group paths separated by commas, such as /kestra-users,/ops',
    z
      .union([str().transform((value) => value.split(',')), z.array(str())])
      .transform((list) => list.map((path) => path.trim()).filter((path) => path !== ''))
      .refine((list) => list.length > 0, 'names no group')
      .refine(
        (list) => list.every(isGroupPath),
        'holds a value that is not a group path like /team',
      )
      .transform((list) => list.map(withoutTrailingSlash)),
  );

/**
 * A whole number from `min` to `max`: a JSON number, or its decimal text. Anything looser
 * (`1e3`, `30s`, `12.0`) is refused rather than guessed at. `unit` only shapes the description.
 */
export function wholeNumber(min: number, max: number, unit?: string): ValueKind<number> {
  const notWhole = 'is not a whole number';
  const decimal = str()
    .trim()
    .regex(/^[+-]?\d+$/, notWhole)
    .transform(Number);
  return kind(
    `a whole number from ${min} to ${max}${unit === undefined ? '' : ` ${unit}`}`,
    z
      .union([z.int(notWhole), decimal], notWhole)
      .pipe(z.number().min(min, `is below ${min}`).max(max, `is above ${max}`)),
  );
}

/** A period in milliseconds where 0 switches the feature off. */
export const periodOrOff = (min: number, max: number): ValueKind<number> =>
  kind(
    `0 (off) or a whole number of milliseconds from ${min} to ${max}`,
    wholeNumber(0, max).schema.refine(
      (ms) => ms === 0 || ms >= min,
      `is below ${min} but not 0 (off)`,
    ),
  );

/**
 * An http or https base URL, returned without trailing slashes so callers can append paths.
 * Credentials in the URL are refused: each target has its own secret setting.
 */
export const httpUrl = (example: string): ValueKind<string> =>
  kind(
    `an http(s) URL such as ${example}`,
    nonEmpty().transform((value, ctx) => {
      const url = URL.parse(value);
      if (url === null) ctx.addIssue('is not a URL');
      else if (url.protocol !== 'http:' && url.protocol !== 'https:')
        ctx.addIssue(`has scheme "${url.protocol}" instead of http: or https:`);
      else if (url.username !== '' || url.password !== '')
        ctx.addIssue('must not contain a user name or password');
      else if (url.search !== '' || url.hash !== '')
        ctx.addIssue('must not contain a query or fragment');
      else return url.href.replace(/\/+$/, '');
      return z.NEVER;
    }),
  );

/**
 * A URL whose scheme `protocol` matches (and whose host `hostname` does, when given), kept as
 * written: amqplib reads the vhost from its exact path.
 */
function schemeUrl(what: string, example: string, protocol: RegExp, hostname?: RegExp) {
  const error = `is not ${what}${hostname === undefined ? '' : ' with a host'}`;
  return kind(`${what} such as ${example}`, nonEmpty().pipe(z.url({ protocol, hostname, error })));
}

/** An AMQP 0-9-1 URL. */
export const amqpUrl = (): ValueKind<string> =>
  schemeUrl('an amqp:// or amqps:// URL', 'amqp://user:pass@host:5672/vhost', /^amqps?$/, /./);

/** A PostgreSQL URL as node-postgres reads it; libpq takes a host-less one for the local socket. */
export const postgresUrl = (): ValueKind<string> =>
  schemeUrl(
    'a postgres:// or postgresql:// URL',
    'postgres://relay:pass@db:5432/relay',
    /^postgres(ql)?$/,
  );

/** A RabbitMQ queue name: the broker reserves the `amq.` prefix and caps names at 255 bytes. */
export const queueName = (): ValueKind<string> =>
  kind(
    'a queue name of at most 255 bytes, not starting with "amq."',
    nonEmpty()
      .refine((value) => Buffer.byteLength(value) <= 255, 'is longer than 255 bytes')
      .refine((value) => !value.startsWith('amq.'), 'starts with the reserved prefix "amq."'),
  );

/** A filesystem path, resolved against the working directory so logs show where it points. */
export const directoryPath = (): ValueKind<string> =>
  kind(
    'a directory path (relative to the working directory)',
    nonEmpty().transform((value) => resolve(value)),
  );

/**
 * A PEM certificate bundle, read here once so a wrong path stops the relay at start-up rather
 * than at its first TLS handshake; the value is the resolved path.
 */
export const pemFile = (): ValueKind<string> =>
  kind(
    'a readable PEM file with at least one certificate',
    nonEmpty().transform((value, ctx) => {
      const path = resolve(value);
      try {
        if (readFileSync(path, 'utf8').includes('-----BEGIN CERTIFICATE-----')) return path;
        ctx.addIssue('holds no PEM certificate');
      } catch (error) {
        ctx.addIssue(`cannot be read: ${fileErrorCode(error)}`);
      }
      return z.NEVER;
    }),
  );

/** The errno code (`ENOENT`, `EACCES`...) of a failed file read: names the cause, not content. */
export function fileErrorCode(error: unknown): string {
  return error instanceof Error && 'code' in error && typeof error.code === 'string'
    ? error.code
    : 'unreadable';
}
