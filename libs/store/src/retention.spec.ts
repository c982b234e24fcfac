import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { chunkLogKey, chunkStreamKey, runKey } from '@dqs/protocol';
import { RedisServer, startRedis } from '../../../test/support/redis-server';
import { ArrayStore } from './array-store';
import { sweep } from './retention';

describe('the clean-up of keys whose run is gone', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it("deletes the streams and logs of a run with no record, and keeps a live run's", async () => {
    const live = 'rlive';
    const lost = 'rlost';
    await redis.hset(runKey(live), 'record', JSON.stringify({ runId: live }), 'state', 'running');
    for (const run of [live, lost]) {
      await redis.xadd(chunkStreamKey(run, 'input_di_1'), '*', 'r', 'x');
      await redis.rpush(chunkLogKey(run, '1'), 'line');
    }
    // a worker that went on after the loss may have set a state field alone: still no record
    await redis.hset(runKey(lost), 'state', 'running');
    await redis.set('unrelated', '1');
    const store = new ArrayStore(mkdtempSync(join(tmpdir(), 'dqs-sweep-')));
    const report = await sweep(redis, store, 3600);
    expect(report).toMatchObject({ streamsDeleted: 1, orphansDeleted: 2, runsForgotten: 0 });
    expect((await redis.keys(`dqs:{${lost}}:*`)).sort()).toEqual([]);
    expect((await redis.keys(`dqs:{${live}}:*`)).length).toBe(3);
    expect(await redis.get('unrelated')).toBe('1');
  });
});
