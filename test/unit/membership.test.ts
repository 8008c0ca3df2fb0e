import { describe, expect, it } from 'vitest';
import { affectedGroups, effectiveGroups, planMembers } from '../../src/domain/membership.js';

const parents: Record<string, string> = { leaf: 'mid', mid: 'top' };
const parentOf = (id: string): string | undefined => parents[id];

describe('memberships', () => {
  it('counts only the groups joined when direct', () => {
    expect([...effectiveGroups(['leaf', 'other'], parentOf, 'direct')]).toEqual(['leaf', 'other']);
  });

  it('climbs the parent tree when inherited, not path prefixes', () => {
    expect([...effectiveGroups(['leaf'], parentOf, 'inherited')]).toEqual(['leaf', 'mid', 'top']);
  });

  it('survives a tree that loops', () => {
    const loop: Record<string, string> = { a: 'b', b: 'a' };
    expect([...effectiveGroups(['a'], (id) => loop[id], 'inherited')].sort()).toEqual(['a', 'b']);
  });

  it('knows which groups a change to one group can affect', () => {
    expect(affectedGroups('leaf', parentOf, 'direct')).toEqual(['leaf']);
    expect(affectedGroups('leaf', parentOf, 'inherited')).toEqual(['leaf', 'mid', 'top']);
  });

  it('plans the adds and removes that turn the current members into the desired ones', () => {
    expect(planMembers(new Set(['a', 'b']), new Set(['b', 'c']))).toEqual({
      add: ['a'],
      remove: ['c'],
    });
    expect(planMembers(new Set(['a']), new Set(['a']))).toEqual({ add: [], remove: [] });
  });
});
