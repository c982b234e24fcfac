/**
 * `dqs demo`: the example of G2S's distributed-QS documentation, end to end, on this machine: a private dqs
 * stack (redis-server, coordinator, results, workers), four related training images and four destination
 * images with different hard data, qs_prep for each job, qs_dm over a 2x2 job grid, progress until 100, each
 * chunk downloaded as soon as it is written, and the mosaic. The base image is made by dqs (no download).
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { NdArray, parseNpy, writeFileAtomic, writeGrid } from '@dqs/grids';
import { mt19937 } from '@dqs/qs';
import { smoothField } from '../demo-images';
import { DqsClient } from '../dqs-client';
import { parseG2sArgs, singleNumber, singleString, switchFlag, UsageError } from '../g2s-args';
import { LocalStack } from '../local-stack';
import { previewPng } from '../outputs';
import { runLocalDemo } from './demo-local';

export const DEMO_HELP = `dqs demo: G2S's distributed QuickSampling example, end to end, on images dqs makes itself

  dqs demo [-o FOLDER] [--size N] [--workers W] [--keep]   (default folder dqs-demo, tiles of 200x200, 2 workers)
  dqs demo --local [-o FOLDER]                            QS on this machine only, without a server

--keep leaves the dqs server running (until Ctrl-C) so that its API and Bull Board can be explored.
`;

/** The seed example's four training images from one base image (values 0..255). */
export function seedExampleImages(
  base: Float32Array,
  rows: number,
  cols: number,
): Record<string, Float32Array> {
  const rng = mt19937(12);
  const gauss = () => {
    const u = (rng.nextUint32() + 1) / 4294967297;
    const v = rng.nextUint32() / 4294967296;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const clip = (v: number) => Math.min(255, Math.max(0, v));
  const out: Record<string, Float32Array> = {
    '101': base.slice(),
    '102': new Float32Array(base.length),
    '103': new Float32Array(base.length),
    '104': new Float32Array(base.length),
  };
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const x = cols > 1 ? c / (cols - 1) : 0;
      const y = rows > 1 ? r / (rows - 1) : 0;
      out['102'][i] = clip(base[i] + 15 * x);
      out['103'][i] = clip(base[i] + 15 * y);
      out['104'][i] = clip(base[i] + 8 * (x + y) + 2 * gauss());
    }
  }
  return out;
}

/** The seed example's destination images: hard data copied from the job's TI in one pattern each. */
export function seedExampleDi(
  source: Float32Array,
  rows: number,
  cols: number,
  mode: 'top' | 'left' | 'diag' | 'center',
): Float32Array {
  const di = new Float32Array(rows * cols).fill(NaN);
  const band = Math.max(1, Math.round(rows / 10));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const keep =
        mode === 'top'
          ? r < band
          : mode === 'left'
            ? c < band
            : mode === 'diag'
              ? Math.abs(r - c) < Math.max(1, Math.round(rows * 0.03))
              : Math.abs(r - (rows >> 1) + 0.5) < rows * 0.06 &&
                Math.abs(c - (cols >> 1) + 0.5) < cols * 0.06;
      if (keep) di[i] = source[i];
    }
  }
  return di;
}

export async function runDemo(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    o: ['-o', '--output'],
    help: ['-h', '--help'],
    quiet: ['--quiet'],
    local: ['--local'],
    size: ['--size'],
    workers: ['--workers'],
    keep: ['--keep'],
  });
  if (switchFlag(flags, 'help')) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const folder = resolve(singleString(flags, 'o', '-o') ?? 'dqs-demo');
  const quiet = switchFlag(flags, 'quiet');
  if (switchFlag(flags, 'local', '--local')) return runLocalDemo(folder, quiet);
  const size = singleNumber(flags, 'size', '--size') ?? 200;
  if (!Number.isInteger(size) || size < 20)
    throw new UsageError(`--size must be an integer >= 20 (got ${size})`);
  const workers = singleNumber(flags, 'workers', '--workers') ?? 2;
  const say = (s: string) => process.stdout.write(`${s}\n`);

  say(
    `dqs demo: G2S's distributed QuickSampling example (qs_prep, qs_dm on a 2x2 job grid), results in ${folder}`,
  );
  const stack = new LocalStack({
    workers,
    slots: 1,
    dataDir: join(folder, 'server'),
    log: quiet ? undefined : (l) => say(`  ${l}`),
  });
  const stop = async () => {
    await stack.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    await stack.start();
    say(
      `  dqs server ${stack.url} with ${workers} worker(s); Bull Board ${stack.url}/queues (user dqs, password ${stack.boardPassword})`,
    );
    const client = new DqsClient(stack.url);
    const base255 = smoothField(size, size).map((v) => Math.round(255 * v));
    const tis = seedExampleImages(base255, size, size);
    const modes = { '101': 'top', '102': 'left', '103': 'diag', '104': 'center' } as const;
    for (const id of ['101', '102', '103', '104'] as const) {
      const ti: NdArray = { shape: [size, size], dtype: 'float32', data: tis[id] };
      const di: NdArray = {
        shape: [size, size],
        dtype: 'float32',
        data: seedExampleDi(tis[id], size, size, modes[id]),
      };
      writeGrid(join(folder, `ti_${id}.npy`), ti);
      writeGrid(join(folder, `di_${id}.npy`), di);
      const prep = await client.json<{ names: string[] }>('POST', '/v1/prep', {
        id,
        ti: [await client.uploadArray(ti)],
        di: await client.uploadArray(di),
        dt: [0],
      });
      say(`  qs_prep ${id}: ${prep.names.join(', ')} (hard data: ${modes[id]})`);
    }
    const t0 = Date.now();
    const run = await client.json<{ runId: string; halo: number[] }>('POST', '/v1/runs', {
      jg: [
        [101, 102],
        [103, 104],
      ],
      dt: [0],
      k: 1.2,
      n: [50],
      j: availableParallelism() > 2 ? 0.5 : 1,
      s: 100,
    });
    say(`  qs_dm: run ${run.runId} (tiles ${size}x${size}, halo ${run.halo.join('x')})`);
    let last = -1;
    for (;;) {
      const s = await client.json<{ state: string; progress: number; error?: string }>(
        'GET',
        `/v1/runs/${run.runId}`,
      );
      const p = Math.floor(s.progress / 10) * 10;
      if (p !== last && !quiet) {
        say(`  distributed progress: ${s.progress.toFixed(1)}%`);
        last = p;
      }
      if (s.state === 'failed' || s.state === 'cancelled')
        throw new Error(`run ${run.runId} ${s.state}: ${s.error ?? ''}`);
      if (s.progress >= 100) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const seconds = (Date.now() - t0) / 1000;
    for (const id of ['101', '102', '103', '104']) {
      const bytes = await client.bytes(`/v1/runs/${run.runId}/chunks/${id}?wait=true&format=npy`);
      writeFileAtomic(join(folder, `chunk_${id}.npy`), bytes);
      const a = parseNpy(bytes);
      writeFileAtomic(
        join(folder, `chunk_${id}.png`),
        previewPng({ shape: a.shape, vars: 1, data: a.data as Float32Array }, 'continuous', [0, 255]),
      );
    }
    const mosaic = await client.bytes(`/v1/runs/${run.runId}/mosaic?wait=true&format=npy`);
    writeFileAtomic(join(folder, 'mosaic.npy'), mosaic);
    const m = parseNpy(mosaic);
    writeFileAtomic(
      join(folder, 'mosaic.png'),
      previewPng({ shape: m.shape, vars: 1, data: m.data as Float32Array }, 'continuous', [0, 255]),
    );
    say(
      `  done in ${seconds.toFixed(1)} s: chunks ${join(folder, 'chunk_<id>.npy/.png')}, mosaic ${join(folder, 'mosaic.npy')} and mosaic.png`,
    );
    if (switchFlag(flags, 'keep', '--keep')) {
      say(`dqs server still running at ${stack.url} (Bull Board ${stack.url}/queues); Ctrl-C stops it`);
      await new Promise(() => undefined);
    }
  } finally {
    await stop();
  }
  return 0;
}
