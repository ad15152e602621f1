import { EntelixError, Namespace, type Persistence, ThreadKey } from '@entelix/core';

const BOM = '\ufeff';

/**
 * Ids beginning with U+FEFF written, then read back: what the listings return, and the
 * error code (or the value) of a read by a tenant whose id begins with one.
 */
export async function readBackLeadingByteOrderMarks(persistence: Persistence) {
  const tenant = `t-${crypto.randomUUID()}`;
  const namespace = Namespace.of(tenant, 'docs');
  await persistence.store().put(namespace, `${BOM}key`, 1);
  const key = ThreadKey.of(tenant, `${BOM}thread`);
  await persistence
    .checkpointer()
    .put(persistence.checkpointer().create({ key, step: 0, state: 1 }));
  await persistence.sessionLog().append(key, [1]);
  const markedTenant = ThreadKey.of(`${BOM}${tenant}`, 'thread');
  await persistence.sessionLog().append(markedTenant, ['event']);
  let markedTenantRead: unknown;
  try {
    markedTenantRead = (await persistence.sessionLog().loadSince(markedTenant, 0)).map(
      ({ event }) => event,
    );
  } catch (error) {
    if (!EntelixError.isInstance(error)) throw error;
    markedTenantRead = error.code;
  }
  return {
    storeKeys: await persistence.store().list(namespace),
    checkpointThreads: await persistence.checkpointer().listThreads(tenant, { limit: 10 }),
    logThreads: await persistence.sessionLog().listThreads(tenant, { limit: 10 }),
    markedTenantRead,
  };
}
