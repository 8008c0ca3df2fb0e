import { describe, expect, it } from 'vitest';
import { adminEventSearchParams, userEventSearchParams } from '../../src/keycloak/event-queries.js';

describe('event query parameters', () => {
  it('repeats list filters and passes dates as the given strings', () => {
    const params = adminEventSearchParams({
      operationTypes: ['CREATE', 'DELETE'],
      resourceTypes: ['USER', 'GROUP_MEMBERSHIP'],
      resourcePath: 'users/*',
      dateFrom: '2026-11-27',
      dateTo: '1795877492000',
      direction: 'asc',
    });
    expect(params.toString()).toBe(
      'operationTypes=CREATE&operationTypes=DELETE&resourceTypes=USER&resourceTypes=GROUP_MEMBERSHIP' +
        '&resourcePath=users%2F*&dateFrom=2026-11-27&dateTo=1795877492000&direction=asc',
    );
  });

  it("uses Keycloak's `type` name for user event types and omits unset filters", () => {
    expect(
      userEventSearchParams({
        types: ['UPDATE_PROFILE', 'DELETE_ACCOUNT'],
        user: 'u-1',
      }).toString(),
    ).toBe('type=UPDATE_PROFILE&type=DELETE_ACCOUNT&user=u-1');
    expect(userEventSearchParams({}).toString()).toBe('');
  });
});
