/**
 * npm run bench:dm: distributed QS against local QS in the same run, as G2S's reference was measured:
 * stone.tiff as TI, a 2x2 job grid of 100x100 tiles (empty DIs), k 1.2, n 50, -j 0.5, seed 100, on a local
 * stack with 2 workers (1 slot each); against `dqs qs` on the whole 200x200 domain with -j 2.
 * Prints medians of wall times (submit to progress 100; whole qs process) and the Redis traffic per chunk.
 *   node dist/scripts/bench-dm.js [--repeat N] [--ti FILE]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { readGrid } from '@dqs/grids';
import { DqsClient } from '../apps/cli/src/dqs-client';
import { LocalStack } from '../apps/cli/src/local-stack';

const root = join(__dirname, '..', '..');
const shared = process.env.DQS_TEST_DATA || join(root, '..', 'shared'); // the shared test data (DQS_TEST_DATA)
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) =>
  args.includes(name) ? args[args.indexOf(name) + 1] : fallback;
const repeat = Number(opt('--repeat', '3'));
const tiFile = opt('--ti', join(shared, 'training-images', 'stone.tiff'));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function redisTraffic(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  const get = (k: string) => Number(new RegExp(`${k}:(\\d+)`).exec(info)?.[1] ?? 0);
  return get('total_net_input_bytes') + get('total_net_output_bytes');
}

async function main(): Promise<void> {
  if (!existsSync(tiFile)) throw new Error(`no training image at ${tiFile}; give one with --ti FILE`);
  const dir = mkdtempSync(join(tmpdir(), 'dqs-bench-dm-'));
  const g2s = (() => {
    const f = join(shared, 'reference', 'g2s', 'timings.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>) : {};
  })();
  const stack = await new LocalStack({ workers: 2, slots: 1, dataDir: join(dir, 'g2s') }).start();
  const client = new DqsClient(stack.url);
  const redis = new Redis(stack.redisUrl);
  try {
    const ti = await client.uploadArray(readGrid(tiFile));
    const di = await client.uploadArray({
      shape: [100, 100],
      dtype: 'float32',
      data: new Float32Array(10000).fill(NaN),
    });
    for (const id of [201, 202, 203, 204])
      await client.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
    const dm: number[] = [];
    const qs: number[] = [];
    const traffic: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const before = await redisTraffic(redis);
      const t0 = performance.now();
      const run = await client.json<{ runId: string }>('POST', '/v1/runs', {
        jg: [
          [201, 202],
          [203, 204],
        ],
        dt: [0],
        k: 1.2,
        n: [50],
        j: 0.5,
        s: 100,
      });
      for (;;) {
        const s = await client.json<{ state: string; progress: number; error?: string }>(
          'GET',
          `/v1/runs/${run.runId}`,
        );
        if (s.state === 'failed' || s.state === 'cancelled') throw new Error(`run ${s.state}: ${s.error}`);
        if (s.progress >= 100) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      dm.push((performance.now() - t0) / 1000);
      traffic.push((await redisTraffic(redis)) - before);
      const t1 = performance.now();
      const local = spawnSync(
        process.execPath,
        [
          join(root, 'bin', 'dqs.js'),
          'qs',
          '-ti',
          tiFile,
          '-di',
          '200x200',
          '-dt',
          '0',
          '-k',
          '1.2',
          '-n',
          '50',
          '-s',
          '100',
          '-j',
          '2',
          '-o',
          join(dir, 'local'),
          '--quiet',
        ],
        { encoding: 'utf8' },
      );
      if (local.status !== 0) throw new Error(local.stderr);
      qs.push((performance.now() - t1) / 1000);
    }
    const runs = g2s['dm2x2_stone_100x100_j0.5_s100 (3 runs)'] as unknown as { wall_s: number }[] | undefined;
    const ref = runs?.map((x) => x.wall_s);
    console.log(
      `stone 2x2 of 100x100 tiles, k 1.2, n 50, -j 0.5, seed 100; 2 workers; ${repeat} run(s), medians`,
    );
    console.log(
      `  dqs dm (submit -> progress 100)      ${median(dm).toFixed(2)} s   (runs: ${dm.map((x) => x.toFixed(2)).join(', ')})`,
    );
    console.log(
      `  dqs qs 200x200 -j 2 (whole process)  ${median(qs).toFixed(2)} s   (runs: ${qs.map((x) => x.toFixed(2)).join(', ')})`,
    );
    console.log(`  dm / local                          ${(median(dm) / median(qs)).toFixed(2)}`);
    console.log(
      `  G2S qs_dm on this machine           ${ref ? `${median(ref).toFixed(2)} s (median of ${ref.join(', ')})` : '12.29 s (median, reference/g2s/README.md)'}`,
    );
    console.log(
      `  Redis traffic per chunk             ${(median(traffic) / 4 / 1024).toFixed(0)} KiB (all commands in and out, divided by 4 chunks)`,
    );
  } finally {
    redis.disconnect();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:dm: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
