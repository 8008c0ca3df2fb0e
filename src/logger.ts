import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/** The relay's logger: a pino logger whose every line has passed the redaction below. */
export type Logger = PinoLogger;

/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/** Secrets shorter than this are not matched by value: blanking every `ab` would blank the log. */
export const MIN_SECRET_LENGTH = 4;

/**
 * Fields censored by name wherever the relay logs them. Paths are case-sensitive, so both
 * spellings of the header are listed. Each `*.` path costs a scan of every logged object (the
 * 4 here take a line from about 3 to 6 microseconds), so wildcards stay few: the value layer
 * already catches known secrets, bearer tokens and JWTs at any depth.
 */
export const REDACTED_PATHS: readonly string[] = [
  'authorization',
  'Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.authorization',
  'token',
  '*.token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'clientSecret',
  '*.clientSecret',
  'client_secret',
  'password',
  '*.password',
  'secret',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  readonly level: string;
  /**
   * Secret values (tokens, client secrets, passwords) blanked wherever they appear in a line:
   * messages, error stacks, nested objects. Values shorter than {@link MIN_SECRET_LENGTH} are
   * ignored.
   */
  readonly secrets: readonly string[];
  /** Where lines go. Default: stdout, written synchronously so nothing is lost on exit. */
  readonly destination?: DestinationStream;
}

/**
 * Creates the relay's JSON logger. Three layers of redaction apply to every line, children
 * included: known field names, known secret values, and passwords embedded in URLs; bearer
 * tokens and JWTs are blanked too, since access tokens are fetched at run time and so are not
 * known up front.
 */
export function createLogger(options: LoggerOptions): Logger {
  const known = new KnownSecrets(options.secrets);
  const logger = pino(
    {
      level: options.level,
      redact: { paths: [...REDACTED_PATHS], censor: REDACTED },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // The hook sees the finished JSON line, so value redaction covers what path
      // redaction cannot know about: error messages and stacks, URLs, free text.
      hooks: { streamWrite: (line) => known.redact(line) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  // Child loggers are made with Object.create(parent), so they find the same set.
  Object.defineProperty(logger, KNOWN_SECRETS, { value: known });
  return logger;
}

const KNOWN_SECRETS = Symbol('known secrets');

/** The secrets a logger blanks; grows when a secret is re-read from its file at run time. */
class KnownSecrets {
  private readonly secrets: string[];
  private redactor: (text: string) => string;

  constructor(secrets: readonly string[]) {
    this.secrets = [...secrets];
    this.redactor = createTextRedactor(this.secrets);
  }

  add(secret: string): void {
    if (this.secrets.includes(secret)) return;
    this.secrets.push(secret);
    // Rebuilt only when a secret is added (a rotation), never per line.
    this.redactor = createTextRedactor(this.secrets);
  }

  redact(line: string): string {
    return this.redactor(line);
  }
}

/**
 * Makes `logger` (and its parent and children, which share the set) blank `secret` from now on,
 * as it blanks the secrets it was created with: a secret re-read from its file at run time is
 * not known when the logger is made. False when the logger was not made by
 * {@link createLogger}, which alone knows how to blank values.
 */
export function addLoggedSecret(logger: Logger, secret: string): boolean {
  const known: unknown = Reflect.get(logger, KNOWN_SECRETS);
  if (!(known instanceof KnownSecrets)) return false;
  known.add(secret);
  return true;
}

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'\\]*):[^\s@/?#"'\\]+@/gi;
const BEARER_TOKEN = /\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

/** Replaces the password in every `scheme://user:password@host` with `***`. */
export function maskUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1:***@');
}

/**
 * Returns a function that blanks the given secrets in any text, as written, JSON-escaped and
 * URL-encoded, since that is how they show up in a JSON line or a URL.
 */
export function createSecretRedactor(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of [secret, encodeURIComponent(secret)]) {
      forms.add(form);
      forms.add(JSON.stringify(form).slice(1, -1));
    }
  }
  if (forms.size === 0) return (text) => text;
  // Longest first, so a secret that contains another is blanked whole.
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(alternatives.join('|'), 'g');
  return (text) => text.replace(pattern, REDACTED);
}

/**
 * Returns a function that blanks, in any text: the given secrets, URL passwords, bearer tokens
 * and JWTs. What the logger applies to every line.
 */
export function createTextRedactor(secrets: readonly string[]): (text: string) => string {
  const redactSecrets = createSecretRedactor(secrets);
  return (text) =>
    maskUrlPasswords(redactSecrets(text))
      .replace(BEARER_TOKEN, `$1 ${REDACTED}`)
      .replace(JWT, REDACTED);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A destination that keeps lines in memory, for tests that assert what was logged. */
export interface MemoryDestination extends DestinationStream {
  /** Every line written, as written (JSON with a trailing newline). */
  readonly lines: readonly string[];
  /** Every line, parsed. */
  records(): Record<string, unknown>[];
}

/** Creates a {@link MemoryDestination}. */
export function memoryDestination(): MemoryDestination {
  const lines: string[] = [];
  return {
    lines,
    write(line: string): void {
      lines.push(line);
    },
    records(): Record<string, unknown>[] {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}
