import type { Persistence } from '@entelix/core';
import { createMemoryPersistence } from '@entelix/memory';

/**
 * One backend lane of the bridge's tests: every suite that takes `targets` runs once
 * per entry. A lane that needs a service names its variable; without it the lane is
 * skipped (a failure under REQUIRE_SERVICES=1).
 */
export interface PersistenceTarget {
  readonly name: string;
  /** The environment variable naming the service this lane needs, if any. */
  readonly requires?: 'DATABASE_URL' | 'REDIS_URL' | 'PGBOUNCER_URL' | 'REDIS_CLUSTER_NODES';
  /** A fresh bundle; suites isolate their data by random tenant ids, not by bundle. */
  open(): Promise<Persistence>;
  close(persistence: Persistence): Promise<void>;
}

export const targets: readonly PersistenceTarget[] = [
  {
    name: 'memory',
    open: async () => createMemoryPersistence(),
    close: (persistence) => persistence.close(),
  },
  // The lanes below join this list once their backends run on the current core API:
  //   PGlite:            createPostgresPersistence({ pglite: new PGlite() })
  //   Postgres:          createPostgresPersistence({ connectionString }) as the application
  //                      role (requires: 'DATABASE_URL'), with a counting Queryable for the
  //                      cost test
  //   PgBouncer:         the same through transaction pooling (requires: 'PGBOUNCER_URL')
  //   Redis:             createRedisPersistence({ url }) (requires: 'REDIS_URL')
  //   Redis Cluster:     createRedisPersistence({ client: new Cluster(nodes) })
  //                      (requires: 'REDIS_CLUSTER_NODES')
  //   ioredis-mock:      createRedisPersistence({ client: new RedisMock() })
];

/** The lanes whose services are available here. */
export function availableTargets(): PersistenceTarget[] {
  return targets.filter(
    (target) => target.requires === undefined || (process.env[target.requires] ?? '') !== '',
  );
}

/** A random id for a tenant, thread or namespace part of one test. */
export function randomId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
