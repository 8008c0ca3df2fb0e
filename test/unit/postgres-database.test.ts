import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POSTGRES_URL,
  jdbcUrlOf,
  postgresAdminUrl,
  testDatabaseName,
} from '../support/postgres-database.js';

describe('test databases', () => {
  it('are named from a prefix and a random part, in characters that need no quoting', () => {
    expect(testDatabaseName('keycloak', 'ab12cd34')).toBe('keycloak_ab12cd34');
    expect(testDatabaseName('Chaos.Suite-1', 'ab12cd34')).toBe('chaos_suite_1_ab12cd34');
    expect(testDatabaseName('42-start', 'ab12cd34')).toBe('_start_ab12cd34');
    expect(testDatabaseName('', 'ab12cd34')).toBe('test_ab12cd34');
    const long = testDatabaseName('x'.repeat(100), 'ab12cd34');
    expect(long).toHaveLength(63);
    expect(long.endsWith('_ab12cd34')).toBe(true);
    expect(testDatabaseName('a')).toMatch(/^a_[0-9a-f]{8}$/);
  });

  it('live on TEST_POSTGRES_URL, else the machine’s server, and Keycloak reaches them by JDBC', () => {
    expect(postgresAdminUrl({})).toBe(DEFAULT_POSTGRES_URL);
    expect(postgresAdminUrl({ TEST_POSTGRES_URL: 'postgres://u:p@db:6543/postgres' })).toBe(
      'postgres://u:p@db:6543/postgres',
    );
    expect(jdbcUrlOf(DEFAULT_POSTGRES_URL, 'kc_1')).toBe('jdbc:postgresql://127.0.0.1:5432/kc_1');
    expect(jdbcUrlOf('postgres://u:p@db/postgres', 'kc_1')).toBe('jdbc:postgresql://db:5432/kc_1');
  });
});
