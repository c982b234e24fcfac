/** The halo exchange against a real redis-server: chunks of a grid run together, exchange halos, and agree. */
import { Redis } from 'ioredis';
import { NdArray } from '@dqs/grids';
import { ChunkJobData, RunParams, coordsOf, neighbourOffsets } from '@dqs/protocol';
import { simulate } from '@dqs/qs';
import { stoneLike } from '../../../test/support/training-images';
import { RedisServer, startRedis } from '../../../test/support/redis-server';
import { ChunkRunner, assembleMosaic, collectChunk } from './index';

const stone = stoneLike(100, 100);

function chunkJobs(
  runId: string,
  grid: number[],
  tile: number[],
  params: RunParams,
  halo: number[],
): { jobs: ChunkJobData[]; arrays: Map<string, NdArray> } {
  const arrays = new Map<string, NdArray>();
  arrays.set('ti', { shape: stone.shape, dtype: 'float32', data: stone.data });
  const N = grid.reduce((a, b) => a * b, 1);
  const di = (p: number) => {
    const cells = tile.reduce((a, b) => a * b, 1);
    const data = new Float32Array(cells).fill(NaN);
    if (p === 1) for (let c = 0; c < cells; c += 53) data[c] = 0.5; // some hard data in one tile
    arrays.set(`di${p}`, { shape: tile, dtype: 'float32', data });
    return `di${p}`;
  };
  for (let p = 0; p < N; p++) di(p);
  const jobs = Array.from({ length: N }, (_, r) => {
    const coords = coordsOf(r, grid);
    return {
      runId,
      namespace: 'default',
      batch: 'default',
      jobId: String(100 + r),
      position: r,
      jobCount: N,
      gridShape: grid,
      coords,
      diId: `input_di_${100 + r}`,
      diSha: `di${r}`,
      tiShas: ['ti'],
      tileShape: tile,
      halo,
      vars: 1,
      params,
      neighbours: neighbourOffsets(coords, grid).map(({ offset, position }) => ({
        position,
        offset,
        jobId: String(100 + position),
        diId: `input_di_${100 + position}`,
        diSha: `di${position}`,
      })),
    } satisfies ChunkJobData;
  });
  return { jobs, arrays };
}

describe('halo exchange over Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  async function runGrid(runId: string, grid: number[], threads: number[], params: RunParams) {
    const { jobs, arrays } = chunkJobs(runId, grid, [30, 30], params, [7, 7]);
    const load = (sha: string) => arrays.get(sha)!;
    const outcomes = await Promise.all(
      jobs.map((job, i) =>
        new ChunkRunner(job, redis, load).execute({ threads: threads[i % threads.length] }),
      ),
    );
    for (const o of outcomes) expect(o.kind).toBe('completed');
    const outputs = await Promise.all(jobs.map((job) => collectChunk(job, redis, load)));
    return {
      jobs,
      outputs,
      mosaic: assembleMosaic(
        [30, 30],
        grid,
        1,
        jobs.map((j, i) => ({ coords: j.coords, output: outputs[i] })),
      ),
    };
  }

  const params: RunParams = { dt: [0], k: 1.2, n: [20], seed: 100, ks: [15] };

  it('simulates a 2x2 grid, keeps hard data, and gives the same bytes with other thread counts', async () => {
    const a = await runGrid('run-a', [2, 2], [1], params);
    const b = await runGrid('run-b', [2, 2], [2, 1, 1, 2], params);
    expect(Buffer.from(a.mosaic.sim.data.buffer).equals(Buffer.from(b.mosaic.sim.data.buffer))).toBe(true);
    expect(a.mosaic.sim.shape).toEqual([60, 60]);
    // hard data of tile 1 (top right) kept; every other value from the TI at its index
    const t1 = a.outputs[1];
    for (let c = 0; c < 900; c += 53) expect(t1.sim.data[c]).toBe(0.5);
    for (const out of a.outputs) {
      for (let c = 0; c < 900; c++)
        if (out.index[c] !== 0xffffffff) expect(out.sim.data[c]).toBe(stone.data[out.index[c]]);
    }
  });

  it('a 1x1 grid gives the same bytes as a local simulation', async () => {
    const one = await runGrid('run-one', [1, 1], [2], params);
    const local = await simulate(
      {
        tis: [stone],
        di: { shape: [30, 30], vars: 1, data: new Float32Array(900).fill(NaN) },
        kinds: ['continuous'],
        k: 1.2,
        n: [20],
        seed: 100,
        kernelSize: [15],
      },
      { threads: 2 },
    );
    expect(Buffer.from(one.outputs[0].sim.data.buffer).equals(Buffer.from(local.sim.data.buffer))).toBe(true);
    expect(Buffer.from(one.outputs[0].index.buffer).equals(Buffer.from(local.index.buffer))).toBe(true);
  });

  it('a chunk stopped half way resumes from its own stream to the same bytes', async () => {
    const ref = await runGrid('run-ref', [1, 2], [1], params);
    const { jobs, arrays } = chunkJobs('run-stop', [1, 2], [30, 30], params, [7, 7]);
    const load = (sha: string) => arrays.get(sha)!;
    const first = new ChunkRunner(jobs[0], redis, load);
    const other = new ChunkRunner(jobs[1], redis, load);
    const otherDone = other.execute({ threads: 1 });
    const stopped = first.execute({
      threads: 1,
      onProgress: (p) => {
        if (p.done > 300) first.stop('yielded');
      },
    });
    const outcome = await stopped;
    expect(outcome.kind).toBe('stopped');
    const resumed = await new ChunkRunner(jobs[0], redis, load).execute({ threads: 2 });
    expect(resumed.kind).toBe('completed');
    if (resumed.kind === 'completed') expect(resumed.replayed).toBeGreaterThan(300);
    expect((await otherDone).kind).toBe('completed');
    const outs = await Promise.all(jobs.map((j) => collectChunk(j, redis, load)));
    outs.forEach((o, i) =>
      expect(Buffer.from(o.sim.data.buffer).equals(Buffer.from(ref.outputs[i].sim.data.buffer))).toBe(true),
    );
  });
});
