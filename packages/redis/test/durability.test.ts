import { describe, expect, it } from 'vitest';
import { createRedisPersistence } from '../src/index.js';
import { mockClient, randomPrefix } from './support.js';

describe('durability report (ioredis-mock)', () => {
  it('reports that the mock keeps everything in memory only', async () => {
    const persistence = createRedisPersistence({ client: mockClient(), keyPrefix: randomPrefix() });
    const report = await persistence.durability();
    expect(report.servers.map((server) => [server.server, server.risks])).toEqual([
      [
        'ioredis-mock',
        [
          {
            reason: 'noPersistence',
            loses: [
              'checkpoints',
              'storeItems',
              'storeIndexes',
              'threadIndexes',
              'sessionEvents',
              'sessionHeads',
              'lockLeases',
            ],
          },
        ],
      ],
    ]);
    expect(report.atRisk).toEqual(report.servers[0]?.risks[0]?.loses);
  });

  it('rejects an aborted call with ABORTED and a bad options argument with CONFIG', async () => {
    const persistence = createRedisPersistence({ client: mockClient(), keyPrefix: randomPrefix() });
    await expect(persistence.durability({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await expect(persistence.durability('all' as never)).rejects.toMatchObject({ code: 'CONFIG' });
  });
});
