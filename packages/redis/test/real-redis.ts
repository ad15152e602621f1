import { once } from 'node:events';
import { Cluster, Redis } from 'ioredis';

/** The `host:port` list of REDIS_CLUSTER_NODES as ioredis Cluster start-up nodes. */
export function parseClusterNodes(nodes: string): { host: string; port: number }[] {
  return nodes.split(',').map((node) => {
    const [host, port] = node.trim().split(':');
    return { host: host as string, port: Number(port) };
  });
}

export function openCluster(nodes: string): Cluster {
  return new Redis.Cluster(parseClusterNodes(nodes));
}

/**
 * Every key under `keyPrefix` (test inspection only: the library itself never scans the
 * keyspace). On a Cluster, every master is scanned.
 */
export async function keysUnderPrefix(
  client: Redis | Cluster,
  keyPrefix: string,
): Promise<string[]> {
  if (client instanceof Cluster && client.status !== 'ready') await once(client, 'ready');
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found.sort();
}

/**
 * Delete every key under `keyPrefix` (test clean-up only: the library itself never
 * scans the keyspace). On a Cluster, every master is scanned.
 */
export async function deletePrefix(client: Redis | Cluster, keyPrefix: string): Promise<number> {
  // A fresh Cluster client knows its nodes only once it has loaded the slot map.
  if (client instanceof Cluster && client.status !== 'ready') await once(client, 'ready');
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: on a Cluster, keys of one page may live in different slots.
      for (const key of keys) deleted += await node.del(key);
    } while (cursor !== '0');
  }
  return deleted;
}
