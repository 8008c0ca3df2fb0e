import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * What a setting's value must look like: a zod schema that turns a raw value (an environment
 * string, or a JSON value from the config file) into the typed value, and a phrase that tells a
 * human what is expected. Issue messages written here never contain the input, so the same
 * kinds serve secrets.
 */
export interface ValueKind<T> {
  /** Parses a raw value into the typed value; each issue message reads after the setting name. */
  readonly schema: z.ZodType<T>;
  /** Completes "expected ..." in error messages and the README's "Values" column. */
  readonly expected: string;
}

const notText = 'is not text';

/** Free text, trimmed, non-empty. */
export function text(maxLength = 255): ValueKind<string> {
  return {
    expected: `non-empty text of at most ${maxLength} characters`,
    schema: z
      .string(notText)
      .trim()
      .min(1, 'is empty')
      .max(maxLength, `is longer than ${maxLength} characters`),
  };
}

/** A token, password or client secret: taken verbatim (no trimming), never blank. */
export function secretText(): ValueKind<string> {
  return {
    expected: 'a non-empty secret',
    schema: z
      .string(notText)
      .min(1, 'is empty')
      .refine((value) => value.trim() !== '', 'is blank'),
  };
}

/** One of a fixed set of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): ValueKind<T[number]> {
  const list = values.join(', ');
  return {
    expected: `one of ${list}`,
    schema: z
      .string(notText)
      .trim()
      .pipe(z.enum(values, `is not one of ${list}`)),
  };
}

const isGroupPath = (value: string): boolean => value.startsWith('/') && value.length > 1;
const withoutTrailingSlash = (value: string): string => value.replace(/\/+$/, '');

/** A Keycloak group path such as `/engineering/backend`, without a trailing slash. */
export function groupPath(): ValueKind<string> {
  return {
    expected: 'a Keycloak group path such as /kestra',
    schema: z
      .string(notText)
      .trim()
      .refine(isGroupPath, 'is not a group path like /team')
      .transform(withoutTrailingSlash),
  };
}

/** Group paths separated by commas (in the config file also a JSON array). */
export function groupPathList(): ValueKind<readonly string[]> {
  return {
    expected: 'Keycloak group paths separated by commas, such as /kestra-users,/ops',
    schema: z
      .union([z.string(notText).transform((value) => value.split(',')), z.array(z.string(notText))])
      .transform((list) => list.map((path) => path.trim()).filter((path) => path !== ''))
      .refine((list) => list.length > 0, 'names no group')
      .refine(
        (list) => list.every(isGroupPath),
        'holds a value that is not a group path like /team',
      )
      .transform((list) => list.map(withoutTrailingSlash)),
  };
}

const wholeNumberText = /^[+-]?\d+$/;

function wholeNumberSchema(min: number, max: number): z.ZodType<number> {
  return z
    .unknown()
    .transform((value, ctx) => {
      // Environment values are strings; the config file may hold real numbers. Anything looser
      // (`1e3`, `30s`, `12.0`) is refused rather than guessed at.
      const parsed =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && wholeNumberText.test(value.trim())
            ? Number(value.trim())
            : Number.NaN;
      if (!Number.isSafeInteger(parsed)) {
        ctx.addIssue('is not a whole number');
        return z.NEVER;
      }
      return parsed;
    })
    .pipe(z.number().min(min, `is below ${min}`).max(max, `is above ${max}`));
}

/** A whole number within bounds; `unit` (e.g. `milliseconds`) only shapes the description. */
export function wholeNumber(min: number, max: number, unit?: string): ValueKind<number> {
  const suffix = unit === undefined ? '' : ` ${unit}`;
  return {
    expected: `a whole number from ${min} to ${max}${suffix}`,
    schema: wholeNumberSchema(min, max),
  };
}

/** A period in milliseconds where 0 switches the feature off. */
export function periodOrOff(min: number, max: number): ValueKind<number> {
  return {
    expected: `0 (off) or a whole number of milliseconds from ${min} to ${max}`,
    schema: wholeNumberSchema(0, max).refine(
      (value) => value === 0 || value >= min,
      `is below ${min} but not 0 (off)`,
    ),
  };
}

/**
 * An http or https base URL, returned without trailing slashes so callers can append paths.
 * Credentials in the URL are refused: each target has its own secret setting.
 */
export function httpUrl(example: string): ValueKind<string> {
  return {
    expected: `an http(s) URL such as ${example}`,
    schema: z
      .string(notText)
      .trim()
      .min(1, 'is empty')
      .transform((value, ctx) => {
        if (!URL.canParse(value)) {
          ctx.addIssue('is not a URL');
          return z.NEVER;
        }
        const url = new URL(value);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
          ctx.addIssue(`has scheme "${url.protocol}" instead of http: or https:`);
          return z.NEVER;
        }
        if (url.username !== '' || url.password !== '') {
          ctx.addIssue('must not contain a user name or password');
          return z.NEVER;
        }
        if (url.search !== '' || url.hash !== '') {
          ctx.addIssue('must not contain a query or fragment');
          return z.NEVER;
        }
        return url.href.replace(/\/+$/, '');
      }),
  };
}

/** An AMQP 0-9-1 URL; kept as written, since amqplib reads the vhost from its exact path. */
export function amqpUrl(): ValueKind<string> {
  return schemeUrl({
    schemes: ['amqp:', 'amqps:'],
    expected: 'an amqp:// or amqps:// URL such as amqp://user:pass@host:5672/vhost',
    refusal: 'is not an amqp:// or amqps:// URL with a host',
    needsHost: true,
  });
}

/** A PostgreSQL connection URL, as node-postgres reads it (libpq's URI form). */
export function postgresUrl(): ValueKind<string> {
  return schemeUrl({
    schemes: ['postgres:', 'postgresql:'],
    expected: 'a postgres:// or postgresql:// URL such as postgres://relay:pass@db:5432/relay',
    refusal: 'is not a postgres:// or postgresql:// URL',
    // libpq reads a host-less URL as the local socket.
    needsHost: false,
  });
}

/** A URL of one of `schemes`, kept as written. */
function schemeUrl(options: {
  readonly schemes: readonly string[];
  readonly expected: string;
  readonly refusal: string;
  readonly needsHost: boolean;
}): ValueKind<string> {
  return {
    expected: options.expected,
    schema: z
      .string(notText)
      .trim()
      .min(1, 'is empty')
      .refine((value) => {
        if (!URL.canParse(value)) return false;
        const url = new URL(value);
        return (
          options.schemes.includes(url.protocol) && (!options.needsHost || url.hostname !== '')
        );
      }, options.refusal),
  };
}

/** A name for a RabbitMQ queue: the broker reserves the `amq.` prefix and caps names at 255. */
export function queueName(): ValueKind<string> {
  return {
    expected: 'a queue name of at most 255 bytes, not starting with "amq."',
    schema: z
      .string(notText)
      .trim()
      .min(1, 'is empty')
      .refine((value) => Buffer.byteLength(value) <= 255, 'is longer than 255 bytes')
      .refine((value) => !value.startsWith('amq.'), 'starts with the reserved prefix "amq."'),
  };
}

/** A filesystem path, resolved against the working directory so logs show where it points. */
export function directoryPath(): ValueKind<string> {
  return {
    expected: 'a directory path (relative to the working directory)',
    schema: z
      .string(notText)
      .trim()
      .min(1, 'is empty')
      .transform((value) => resolve(value)),
  };
}

/**
 * A PEM certificate bundle. It is read here, once, so a wrong path stops the relay at start-up
 * rather than at its first TLS handshake; the value is the resolved path.
 */
export function pemFile(): ValueKind<string> {
  return {
    expected: 'a readable PEM file with at least one certificate',
    schema: z
      .string(notText)
      .trim()
      .min(1, 'is empty')
      .transform((value, ctx) => {
        const path = resolve(value);
        let content: string;
        try {
          content = readFileSync(path, 'utf8');
        } catch (error) {
          ctx.addIssue(`cannot be read: ${fileErrorCode(error)}`);
          return z.NEVER;
        }
        if (!content.includes('-----BEGIN CERTIFICATE-----')) {
          ctx.addIssue('holds no PEM certificate');
          return z.NEVER;
        }
        return path;
      }),
  };
}

/** The errno code (`ENOENT`, `EACCES`...) of a failed file read: names the cause, not content. */
export function fileErrorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return 'unreadable';
}
