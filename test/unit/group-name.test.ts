import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeGroupName, groupPathName } from '../../src/domain/group-name.js';

/** Names drawn mostly from the characters that matter: the separator and the escape. */
const name = fc.string({
  unit: fc.constantFrom('a', 'b', 'A', '/', '~', ' ', 'é', 'İ'),
  maxLength: 6,
});
const chain = fc.array(name, { minLength: 1, maxLength: 4 });

describe('a group displayName from its chain of names', () => {
  it('keeps the name of a chain without `/` or `~` as Keycloak 25 wrote the path', () => {
    expect(groupPathName(['eng'])).toBe('/eng');
    expect(groupPathName(['eng', 'backend'])).toBe('/eng/backend');
    expect(groupPathName(['Eng Team', 'back-end (EU)', 'on call'])).toBe(
      '/Eng Team/back-end (EU)/on call',
    );
  });

  it('tells a `/` inside a name from the child of a group', () => {
    expect(groupPathName(['a/b'])).toBe('/a~/b');
    expect(groupPathName(['a', 'b'])).toBe('/a/b');
    expect(groupPathName(['a', 'b', 'c'])).toBe('/a/b/c');
    expect(groupPathName(['a/b', 'c'])).toBe('/a~/b/c');
    expect(groupPathName(['a', 'b/c'])).toBe('/a/b~/c');
  });

  it('escapes the escape character too, so `a~` above `b` is not `a/b`', () => {
    expect(escapeGroupName('a~')).toBe('a~~');
    expect(groupPathName(['a~', 'b'])).toBe('/a~~/b');
    expect(groupPathName(['a~/b'])).toBe('/a~~~/b');
    expect(groupPathName(['~'])).toBe('/~~');
  });

  it('gives two different chains two different displayNames (property)', () => {
    fc.assert(
      fc.property(chain, chain, (a, b) => {
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        expect(groupPathName(a)).not.toBe(groupPathName(b));
      }),
      { numRuns: 5000 },
    );
  });

  it('can be read back: the chain is recovered from the displayName (property)', () => {
    const decode = (displayName: string): string[] => {
      const names: string[] = [];
      let current: string | undefined;
      for (let i = 0; i < displayName.length; i++) {
        const char = displayName.charAt(i);
        if (char === '/') {
          if (current !== undefined) names.push(current);
          current = '';
        } else {
          const escaped = char === '~';
          if (escaped) i += 1;
          if (escaped) expect(['~', '/']).toContain(displayName.charAt(i));
          current = `${current ?? ''}${displayName.charAt(i)}`;
        }
      }
      if (current !== undefined) names.push(current);
      return names;
    };
    fc.assert(
      fc.property(chain, (names) => {
        expect(decode(groupPathName(names))).toEqual(names);
      }),
      { numRuns: 2000 },
    );
  });

  it('differs between chains that differ only in case exactly when the names do (property)', () => {
    // SCIM displayNames are unique regardless of case: escaping must not make two chains that
    // differ in case alone collide, nor keep two that are the same but for case apart.
    fc.assert(
      fc.property(chain, chain, (a, b) => {
        const same =
          JSON.stringify(a.map((n) => n.toLowerCase())) ===
          JSON.stringify(b.map((n) => n.toLowerCase()));
        expect(groupPathName(a).toLowerCase() === groupPathName(b).toLowerCase()).toBe(same);
      }),
      { numRuns: 5000 },
    );
  });
});
