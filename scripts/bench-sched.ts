/**
 * npm run bench:sched: scheduling under a held-chunk limit. Job grids of 20x20 tiles (a smooth field as TI, n 20,
 * k 1.2, -ks 21, -j 1) on ONE worker with ONE slot, for each DQS_MAX_HELD_CHUNKS (unlimited first: the
 * reference), printing the wall time (submit to progress 100), its ratio to the unlimited run of the same grid
 * (goal: at most 1.5), and whether the mosaic has the same bytes. A run still unfinished after --timeout is
 * cancelled and shown with its progress.
 *   node dist/scripts/bench-sched.js [--grids 3,9] [--limits 1,4,64] [--timeout 300] [--tile 20]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DqsClient } from '../apps/cli/src/dqs-client';
import { smoothField } from '../apps/cli/src/demo-images';
import { LocalStack } from '../apps/cli/src/local-stack';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) =>
  args.includes(name) ? args[args.indexOf(name) + 1] : fallback;
const grids = opt('--grids', '3,9').split(',').map(Number);
const limits = opt('--limits', '1,4,64').split(',').map(Number);
const timeoutS = Number(opt('--timeout', '300'));
const tile = Number(opt('--tile', '20'));
const UNLIMITED = 100000;

interface Outcome {
  seconds: number;
  progress: number;
  sha?: string;
}

async function runGrid(client: DqsClient, side: number): Promise<Outcome> {
  const ids = Array.from({ length: side * side }, (_, k) => 1000 * side + k);
  const ti = await client.uploadArray({ shape: [80, 80], dtype: 'float32', data: smoothField(80, 80) });
  const di = await client.uploadArray({
    shape: [tile, tile],
    dtype: 'float32',
    data: new Float32Array(tile * tile).fill(NaN),
  });
  for (const id of ids) await client.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
  const jg = Array.from({ length: side }, (_, y) => ids.slice(y * side, (y + 1) * side));
  const t0 = performance.now();
  const { runId } = await client.json<{ runId: string }>('POST', '/v1/runs', {
    jg,
    dt: [0],
    k: 1.2,
    n: [20],
    ks: [21],
    s: 100,
    j: 1,
  });
  for (;;) {
    const s = await client.json<{ state: string; progress: number; error?: string }>(
      'GET',
      `/v1/runs/${runId}`,
    );
    const seconds = (performance.now() - t0) / 1000;
    if (s.state === 'failed' || s.state === 'cancelled') throw new Error(`run ${s.state}: ${s.error}`);
    if (s.state === 'completed') {
      const mosaic = await client.bytes(`/v1/runs/${runId}/mosaic?wait=true`);
      return { seconds, progress: 100, sha: createHash('sha256').update(mosaic).digest('hex') };
    }
    if (seconds > timeoutS) {
      await client.json('POST', `/v1/runs/${runId}/kill`).catch(() => undefined);
      return { seconds, progress: s.progress };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const results = new Map<string, Outcome>();
  for (const limit of [UNLIMITED, ...limits]) {
    const dir = mkdtempSync(join(tmpdir(), 'dqs-bench-sched-'));
    const stack = await new LocalStack({
      workers: 1,
      slots: 1,
      threads: 1,
      dataDir: join(dir, 'g2s'),
      env: { DQS_MAX_HELD_CHUNKS: String(limit) },
    }).start();
    try {
      for (const side of grids) {
        const out = await runGrid(new DqsClient(stack.url), side);
        results.set(`${side}/${limit}`, out);
        process.stderr.write(
          `  ${side}x${side}, held limit ${limit === UNLIMITED ? 'unlimited' : limit}: ${out.seconds.toFixed(1)} s (${out.progress}%)\n`,
        );
      }
    } finally {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `one worker, one slot; grids of ${tile}x${tile} tiles, n 20, k 1.2, -ks 21, -j 1; cut off at ${timeoutS} s`,
  );
  console.log('grid   held limit   wall s   x unlimited   same bytes');
  for (const side of grids) {
    const ref = results.get(`${side}/${UNLIMITED}`)!;
    for (const limit of [UNLIMITED, ...limits]) {
      const r = results.get(`${side}/${limit}`)!;
      const done = r.progress === 100;
      console.log(
        `${`${side}x${side}`.padEnd(6)} ${(limit === UNLIMITED ? 'unlimited' : String(limit)).padEnd(12)} ` +
          `${(done ? r.seconds.toFixed(1) : `>${r.seconds.toFixed(0)} (${r.progress}%)`).padStart(7)}   ` +
          `${(done ? (r.seconds / ref.seconds).toFixed(2) : '-').padStart(11)}   ${done ? (r.sha === ref.sha ? 'yes' : 'NO') : '-'}`,
      );
    }
  }
}

main().catch((e: unknown) => {
  console.error(`bench:sched: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
