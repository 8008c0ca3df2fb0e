import { describe, expect, it } from 'vitest';
import { judgeHolder, movedAsideName, ownerOf, type Holder } from '../../src/domain/ownership.js';

const resource = { id: 's-1', externalId: 'kc-old' };
const holder = (parts: Partial<Holder<typeof resource>>): Holder<typeof resource> => ({
  resource,
  owner: 'kc-old',
  ownerLive: true,
  ownersTwin: true,
  ownerWants: 'other',
  ...parts,
});

describe('whose a SCIM resource is', () => {
  it('asks the id map first, then the externalId, and finds nobody without either', () => {
    expect(ownerOf(resource, 'kc-mapped')).toBe('kc-mapped');
    expect(ownerOf(resource, undefined)).toBe('kc-old');
    expect(ownerOf({ id: 's', externalId: '' }, undefined)).toBeUndefined();
    expect(ownerOf({ id: 's' }, undefined)).toBeUndefined();
  });
});

describe('the one rule for a resource that holds a wanted name', () => {
  it('lets anyone take over what is nobody’s, its own, or left by a deleted entity', () => {
    expect(judgeHolder('kc-new', 'x', holder({ owner: undefined }), true)).toEqual({
      kind: 'free',
      leftBy: undefined,
    });
    expect(judgeHolder('kc-new', 'x', holder({ owner: 'kc-new' }), true).kind).toBe('free');
    expect(judgeHolder('kc-new', 'x', holder({ ownerLive: false }), false)).toEqual({
      kind: 'free',
      leftBy: 'kc-old',
    });
  });

  it('waits for a live owner whose own reconcile renames its twin away', () => {
    expect(judgeHolder('kc-new', 'x', holder({ ownerWants: 'other' }), false)).toEqual({
      kind: 'moving',
      owner: 'kc-old',
    });
  });

  it('waits for an owner no longer provisioned only when deprovisioning deletes', () => {
    expect(judgeHolder('kc-new', 'x', holder({ ownerWants: undefined }), true).kind).toBe('moving');
    expect(judgeHolder('kc-new', 'x', holder({ ownerWants: undefined }), false).kind).toBe('taken');
  });

  it('refuses a name a live owner keeps, case-insensitively, or holds with a stray resource', () => {
    expect(judgeHolder('kc-new', 'x', holder({ ownerWants: 'X' }), true)).toEqual({
      kind: 'taken',
      owner: 'kc-old',
    });
    expect(judgeHolder('kc-new', 'x', holder({ ownersTwin: false }), true).kind).toBe('taken');
  });

  it('moves a twin aside to a name no Keycloak entity can want by accident', () => {
    expect(movedAsideName('kc-1')).toBe('renaming-kc-1');
  });
});
