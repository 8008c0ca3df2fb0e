import { scimError } from './scim-response.js';

/** One `attribute eq "value"` comparison. A parsed filter is a list of them joined by `and`. */
export interface EqualityTerm<A extends string = string> {
  /** The attribute's canonical name, as listed in the `attributes` argument of `parseFilter`. */
  readonly attribute: A;
  readonly value: string;
}

const KNOWN_OPERATORS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le', 'pr']);
const ATTRIBUTE_PATH = /[A-Za-z][\w$:.-]*/y;
const WORD = /[A-Za-z]+/y;
const SPACES = / +/y;

function invalidFilter(detail: string): Error {
  return scimError(400, detail, 'invalidFilter');
}

/**
 * Parses the subset of RFC 7644 §3.4.2.2 filters that Kestra's endpoint is expected to serve:
 * `attr eq "value"` terms on the given attributes, joined by `and`. Values must be quoted JSON
 * strings (so `\"`, `\\` and `\uXXXX` escapes work); anything else is refused with
 * `invalidFilter` rather than half-understood, so a client relying on more gets told at once.
 *
 * Attribute names are matched case-insensitively and may carry the resource's schema URN.
 */
export function parseFilter<A extends string>(
  text: string,
  attributes: readonly A[],
  schemaUrn?: string,
): EqualityTerm<A>[] {
  const scanner = new Scanner(text);
  const terms: EqualityTerm<A>[] = [];
  for (;;) {
    scanner.skip(SPACES);
    if (scanner.peek() === '(') throw invalidFilter('grouping with parentheses is not supported');
    const path = scanner.read(ATTRIBUTE_PATH);
    if (path === undefined) {
      throw invalidFilter(`expected an attribute name at position ${scanner.position + 1}`);
    }
    if (path.toLowerCase() === 'not') throw invalidFilter('the "not" operator is not supported');
    if (scanner.peek() === '[') {
      throw invalidFilter(`complex attribute filter "${path}[...]" is not supported`);
    }
    const attribute = resolveAttribute(path, attributes, schemaUrn);
    scanner.require(SPACES, `expected an operator after "${path}"`);
    const operator = scanner.read(WORD)?.toLowerCase();
    if (operator !== 'eq') {
      if (operator !== undefined && KNOWN_OPERATORS.has(operator)) {
        throw invalidFilter(`operator "${operator}" is not supported; only "eq" is`);
      }
      throw invalidFilter(`expected the operator "eq" after "${path}"`);
    }
    scanner.require(SPACES, `expected a value after "${path} eq"`);
    terms.push({ attribute, value: scanner.readStringLiteral(path) });
    scanner.skip(SPACES);
    if (scanner.atEnd()) return terms;
    const logical = scanner.read(WORD)?.toLowerCase();
    if (logical === 'or') throw invalidFilter('the "or" operator is not supported');
    if (logical !== 'and') {
      throw invalidFilter(
        `expected "and" or the end of the filter at position ${scanner.position + 1}`,
      );
    }
    scanner.require(SPACES, 'expected a comparison after "and"');
  }
}

function resolveAttribute<A extends string>(
  path: string,
  attributes: readonly A[],
  schemaUrn: string | undefined,
): A {
  let name = path;
  if (schemaUrn !== undefined && name.toLowerCase().startsWith(`${schemaUrn.toLowerCase()}:`)) {
    name = name.slice(schemaUrn.length + 1);
  }
  const lower = name.toLowerCase();
  const found = attributes.find((candidate) => candidate.toLowerCase() === lower);
  if (found === undefined) {
    throw invalidFilter(
      `filtering on "${path}" is not supported; filterable attributes: ${attributes.join(', ')}`,
    );
  }
  return found;
}

/** A cursor over the filter text; sticky regexes keep every read anchored at the cursor. */
class Scanner {
  position = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.position];
  }

  read(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.position;
    const match = pattern.exec(this.text);
    if (match === null) return undefined;
    this.position = pattern.lastIndex;
    return match[0];
  }

  skip(pattern: RegExp): void {
    this.read(pattern);
  }

  require(pattern: RegExp, detail: string): void {
    if (this.read(pattern) === undefined) throw invalidFilter(detail);
  }

  /** Reads a JSON string literal; JSON.parse does the unescaping so the rules are exactly JSON's. */
  readStringLiteral(path: string): string {
    if (this.peek() !== '"') {
      throw invalidFilter(`the value compared with "${path}" must be a quoted string`);
    }
    const start = this.position;
    let index = start + 1;
    while (index < this.text.length) {
      const char = this.text[index];
      if (char === '\\') index += 2;
      else if (char === '"') break;
      else index += 1;
    }
    if (index >= this.text.length) {
      throw invalidFilter(`the string compared with "${path}" has no closing quote`);
    }
    this.position = index + 1;
    const literal = this.text.slice(start, index + 1);
    let value: unknown;
    try {
      value = JSON.parse(literal);
    } catch {
      throw invalidFilter(`the string ${literal} compared with "${path}" has an invalid escape`);
    }
    if (typeof value !== 'string') {
      throw invalidFilter(`the value compared with "${path}" must be a quoted string`);
    }
    return value;
  }
}
