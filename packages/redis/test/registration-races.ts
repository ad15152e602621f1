import { Namespace, type Persistence, ThreadKey } from '@entelix/core';
import { expect, it } from 'vitest';
import type { RedisClient } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';
import { STORE_PUT } from '../src/scripts/store.js';
import { randomId } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a race test opens: a client, a prefix of its own, and the keys under it. */
export interface RaceSetup {
  readonly client: RedisClient;
  readonly keyPrefix: string;
  /** A bundle under the prefix over `client` (the given one, or one holding calls back). */
  persistence(client: RedisClient): Persistence;
  /** Every key under the prefix, sorted (the test scans its own prefix). */
  keys(): Promise<string[]>;
  /** Whether store writes can be fenced (not on a Cluster). */
  readonly fencedStoreWrites: boolean;
}

/**
 * A client that holds back the first call for which `when` returns true until `open()`,
 * so a test can run another writer in the window between two round trips of a put.
 */
function holdBack(
  client: RedisClient,
  when: (args: readonly unknown[]) => boolean,
): { client: RedisClient; arrived: Promise<void>; open(): void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  let armed = true;
  const held = new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (armed && when(args.flat())) {
          armed = false;
          arrive();
          return gate.then(() => value.apply(target, args));
        }
        return value.apply(target, args);
      };
    },
  });
  return { client: held, arrived, open };
}

type Moment = 'before registering' | 'between tenant and namespace' | 'before the item write';
type Rival = 'same namespace' | 'sibling namespace' | 'sweep of an expired sibling';

const CASES: [Moment, Rival][] = [
  ['before registering', 'same namespace'],
  ['before registering', 'sibling namespace'],
  ['before registering', 'sweep of an expired sibling'],
  ['between tenant and namespace', 'same namespace'],
  ['between tenant and namespace', 'sibling namespace'],
  ['before the item write', 'same namespace'],
  ['before the item write', 'sibling namespace'],
  ['before the item write', 'sweep of an expired sibling'],
];

/**
 * The tenant index, a tenant's namespace index and a namespace's items live in three
 * slots, so the first put into a namespace registers it in several round trips, and
 * emptying a namespace unregisters it in several. Whatever runs between those round
 * trips, a namespace with a live item stays listed and its tenant stays in reach of the
 * all-tenant sweep; and once that item is gone, nothing is left behind.
 */
export function registrationRaceTests(open: () => RaceSetup): void {
  it.each(CASES)('a first put held %s, while a rival works on the %s', async (moment, rival) => {
    const { client, keyPrefix, keys, persistence } = open();
    const layout = new KeyLayout(keyPrefix);
    const tenant = randomId('tenant');
    const namespace = Namespace.of(tenant, 'mine');
    const sibling = Namespace.of(tenant, 'sibling');
    const tenants = layout.storeTenants();
    const index = layout.namespaceIndex(tenant);
    const rivalStore = persistence(client).store<number>();
    if (rival === 'sweep of an expired sibling') {
      await rivalStore.put(sibling, 'k', 0, { ttlMs: 10 });
      await sleep(30);
    }

    let tenantTouched = false;
    const held = holdBack(client, (args) => {
      if (moment === 'before registering') return args.includes(tenants) || args.includes(index);
      if (moment === 'between tenant and namespace') {
        if (args.includes(tenants)) tenantTouched = true;
        return tenantTouched && args.includes(index);
      }
      return args[0] === STORE_PUT.sha1 && args[args.length - 1] !== '';
    });
    const store = persistence(held.client).store<number>();
    const put = store.put(namespace, 'k', 1, { ttlMs: 300 });
    await Promise.race([
      held.arrived,
      put.then(() => {
        throw new Error(`the put finished without passing the moment ${moment}`);
      }),
    ]);

    if (rival === 'same namespace' || rival === 'sibling namespace') {
      const target = rival === 'same namespace' ? namespace : sibling;
      await rivalStore.put(target, 'rival', 2);
      expect(await rivalStore.delete(target, 'rival')).toBe(true);
    } else {
      expect(await rivalStore.evictExpired()).toBe(1);
    }
    held.open();
    await put;

    expect((await rivalStore.get(namespace, 'k'))?.value).toBe(1);
    expect((await rivalStore.listNamespaces(tenant)).map((ns) => ns.scope)).toEqual([['mine']]);
    await sleep(350);
    // The all-tenant sweep still reaches the namespace, and then nothing is left.
    expect(await rivalStore.evictExpired()).toBe(1);
    expect(await keys()).toEqual([]);
  });

  it('a fenced append racing a purge is erased by it or FENCED, never left behind', async () => {
    const { client, keyPrefix, persistence } = open();
    const layout = new KeyLayout(keyPrefix);
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const rival = persistence(client);
    const lease = await rival.lock.tryAcquire(key, { ttlMs: 10_000 });
    if (lease === undefined) throw new Error('lock not granted');
    await rival.sessionLog().append(key, ['before'], { fence: lease });
    // The purge is held after its thread walks, as it reads the tenant's namespaces.
    const held = holdBack(client, (args) => args.includes(layout.namespaceIndex(key.tenantId)));
    const purge = persistence(held.client).purgeTenant(key.tenantId);
    await Promise.race([
      held.arrived,
      purge.then(() => {
        throw new Error('the purge finished without reading the namespace index');
      }),
    ]);
    const late = await rival
      .sessionLog()
      .append(key, ['during'], { fence: lease })
      .then(
        () => 'written',
        (error: { code?: string }) => error.code,
      );
    held.open();
    expect(await purge).toMatchObject({ events: 1 });
    expect(late).toBe('FENCED');
    expect(await rival.sessionLog().loadSince(key, 0)).toEqual([]);
  });

  it('a first put fenced out between registering and writing leaves no index entry behind', async (context) => {
    const { client, keyPrefix, keys, persistence, fencedStoreWrites } = open();
    if (!fencedStoreWrites) context.skip();
    const layout = new KeyLayout(keyPrefix);
    const lockKey = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const namespace = Namespace.of(lockKey.tenantId, 'mine');
    const rival = persistence(client);
    const stale = await rival.lock.tryAcquire(lockKey, { ttlMs: 10_000 });
    if (stale === undefined) throw new Error('lock not granted');
    const held = holdBack(
      client,
      (args) => args[0] === STORE_PUT.sha1 && args[args.length - 1] !== '',
    );
    const put = persistence(held.client).store<number>().put(namespace, 'k', 1, { fence: stale });
    put.catch(() => undefined);
    await held.arrived;
    await stale.release();
    const current = await rival.lock.tryAcquire(lockKey, { ttlMs: 10_000 });
    held.open();
    await expect(put).rejects.toMatchObject({ code: 'FENCED' });
    await current?.release();
    expect(await rival.store().listNamespaces(lockKey.tenantId)).toEqual([]);
    expect(await keys()).toEqual(
      [layout.thread(lockKey).lockFence, layout.tenantThreads(lockKey.tenantId).lockThreads].sort(),
    );
  });
}
