import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { describe, expect, it } from 'vitest';
import {
  createInMemoryKeyValueClient,
  createKeyValuePersistence,
  type KeyValueClient,
} from '../src/index.js';

// What the conformance suite cannot see from outside: how this adapter treats a failing
// client and records it did not write itself.
describe('custom key/value adapter', () => {
  it('refuses a missing or malformed client with CONFIG', () => {
    expect(() => createKeyValuePersistence(undefined as never)).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(() => createKeyValuePersistence({ client: { get() {} } as never })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
  });

  it('wraps a client failure once as BACKEND with the original as cause', async () => {
    const failure = new Error('disk on fire');
    const failing: KeyValueClient = {
      ...createInMemoryKeyValueClient(),
      get() {
        throw failure;
      },
    };
    const persistence = createKeyValuePersistence({ client: failing });
    const error = await persistence
      .sessionLog()
      .head(ThreadKey.of('acme', 'thread'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BACKEND', backend: 'key-value', cause: failure });
  });

  it('rejects unreadable records and records of another tenant with CORRUPT_RECORD', async () => {
    const client = createInMemoryKeyValueClient();
    const persistence = createKeyValuePersistence({ client });
    const acme = Namespace.of('acme', 'profile');
    const globex = Namespace.of('globex', 'profile');
    await persistence.store().put(acme, 'k', 1);
    await persistence.store().put(globex, 'k', 2);
    const [acmeKey] = [...client.keys('')].filter((key) => key.includes('acme'));
    const [globexKey] = [...client.keys('')].filter((key) => key.includes('globex'));
    client.set(globexKey as string, client.get(acmeKey as string) as string);
    await expect(persistence.store().get(globex, 'k')).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    client.set(acmeKey as string, '{not json');
    await expect(persistence.store().get(acme, 'k')).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
  });

  it('close leaves the caller’s client and its data alone', async () => {
    const client = createInMemoryKeyValueClient();
    const key = ThreadKey.of('acme', 'thread');
    const first = createKeyValuePersistence({ client });
    await first.checkpointer().put(Checkpoint.create({ key, step: 0, state: 'kept' }));
    await first.close();
    const second = createKeyValuePersistence({ client });
    expect((await second.checkpointer().getLatest(key))?.state).toBe('kept');
  });
});
