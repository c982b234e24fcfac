/**
 * Distributed QS end to end: redis-server, coordinator, results and workers run as real processes (the entry
 * points docker-compose uses), driven through the HTTP API and the dqs command line.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import type { WorkerInfo } from '@dqs/store';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy, readGrid, serializeNpy, writeGrid } from '@dqs/grids';
import { DqsClient, DqsServerError } from '../apps/cli/src/dqs-client';
import { runDqs } from './support/cli';
import { freePort } from '../apps/cli/src/local-stack';
import { stoneLike } from './support/training-images';
import { TestStack, mosaicOf, nd, startTestStack, waitForRun } from './support/stack';

const ROOT = join(__dirname, '..');
const DQS = join(ROOT, 'bin', 'dqs.js');
const stone = stoneLike(80, 80);
const TILE = 40;

interface Status {
  state: string;
  progress: number;
  error?: string;
  chunks: { jobId: string; state: string; progress: number; error?: string; worker?: string }[];
}

function emptyDi(hard = 0): Float32Array {
  const d = new Float32Array(TILE * TILE).fill(NaN);
  for (let c = 0; c < d.length && hard > 0; c += hard) d[c] = stone.data[c];
  return d;
}

async function prep(client: DqsClient, ids: number[], tiData = stone.data): Promise<void> {
  const ti = await client.uploadArray(nd([80, 80], tiData));
  for (const id of ids) {
    const di = await client.uploadArray(nd([TILE, TILE], emptyDi(id % 3 === 0 ? 97 : 0)));
    await client.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
  }
}

const RUN = { dt: [0], k: 1.2, n: [20], s: 100, j: 1, ks: [21] };

const waitFor = (client: DqsClient, runId: string, timeoutMs?: number) =>
  waitForRun<Status>(client, runId, { timeoutMs });

function dqs(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runDqs(args, { ...process.env, ...env });
}

/** Mean |difference| of neighbouring cells across tile borders over the same inside tiles (1 = invisible seams). */
function seamRatio(m: Float32Array, size: number, tile: number): number {
  let seam = 0;
  let ns = 0;
  let inside = 0;
  let ni = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c + 1 < size; c++) {
      const d = Math.abs(m[r * size + c + 1] - m[r * size + c]);
      if ((c + 1) % tile === 0) {
        seam += d;
        ns++;
      } else {
        inside += d;
        ni++;
      }
      const e = Math.abs(m[(c + 1) * size + r] - m[c * size + r]);
      if ((c + 1) % tile === 0) {
        seam += e;
        ns++;
      } else {
        inside += e;
        ni++;
      }
    }
  }
  return seam / ns / (inside / ni);
}

describe('the seed example through the dqs command line (dqs up, prep, dm, status, download, mosaic)', () => {
  let up: ChildProcess;
  let server = '';
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dqs-cli-e2e-'));
    const port = await freePort();
    up = spawn(process.execPath, [DQS, 'up', '--workers', '2', '--port', String(port)], {
      env: {
        ...process.env,
        G2S_DATA_DIR: join(dir, 'g2s'),
        REDIS_URL: '',
        DQS_LOCK_DURATION_MS: '4000',
        DQS_STALLED_INTERVAL_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dqs up did not print its URL: ${out}`)), 60000);
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          server = m[1];
          resolve();
        }
      };
      up.stdout!.on('data', onData);
      up.stderr!.on('data', onData);
    });
    expect(server).toBe(`http://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    up.kill('SIGINT');
    await new Promise((r) => up.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares four jobs with their own TIs and DIs, runs them, and downloads each cropped chunk and the mosaic', async () => {
    // four related TIs (ramps as in the seed example) and four DIs with hard data in different places
    const tis: Record<number, Float32Array> = {};
    const dis: Record<number, Float32Array> = {};
    for (const [i, id] of [101, 102, 103, 104].entries()) {
      tis[id] = stone.data.map((v, c) => Math.min(1, v + 0.05 * i * ((c % 80) / 79)));
      const di = new Float32Array(TILE * TILE).fill(NaN);
      for (let c = 0; c < TILE * TILE; c++) {
        const r = Math.floor(c / TILE);
        const col = c % TILE;
        if (
          (i === 0 && r < 4) ||
          (i === 1 && col < 4) ||
          (i === 2 && Math.abs(r - col) < 2) ||
          (i === 3 && Math.abs(r - 20) < 3 && Math.abs(col - 20) < 3)
        ) {
          di[c] = tis[id][r * 80 + col];
        }
      }
      dis[id] = di;
      writeGrid(join(dir, `ti_${id}.npy`), nd([80, 80], tis[id]));
      writeGrid(join(dir, `di_${id}.npy`), nd([TILE, TILE], di));
      const p = await dqs([
        'prep',
        '--id',
        String(id),
        '-ti',
        join(dir, `ti_${id}.npy`),
        '-di',
        join(dir, `di_${id}.npy`),
        '-dt',
        '0',
        '--server',
        server,
      ]);
      expect(p.stderr).toBe('');
      expect(p.status).toBe(0);
      expect(p.stdout).toContain(`input_di_${id}`);
    }
    const dm = await dqs([
      'dm',
      '-jg',
      '[[101,102],[103,104]]',
      '-dt',
      '0',
      '-k',
      '1.2',
      '-n',
      '20',
      '-j',
      '0.5',
      '-s',
      '100',
      '-ks',
      '21',
      '--submit-only',
      '--server',
      server,
    ]);
    expect(dm.status).toBe(0);
    const runId = dm.stdout.trim().split('\n').pop()!;
    expect(runId).toMatch(/^r[0-9a-z]+$/);
    // progress reaches 100 only when all four chunks can be downloaded
    const client = new DqsClient(server);
    for (;;) {
      const st = await dqs(['status', runId, '--json', '--server', server]);
      expect(st.status).toBe(0);
      const s = JSON.parse(st.stdout) as Status;
      const durable = s.chunks.filter((c) => c.state === 'durable').length;
      if (s.progress >= 100) {
        expect(durable).toBe(4);
        for (const id of [101, 102, 103, 104])
          expect((await client.bytes(`/v1/runs/${runId}/chunks/${id}`)).length).toBeGreaterThan(0);
        break;
      }
      expect(s.state).not.toBe('failed');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const id of [101, 102, 103, 104]) {
      const file = join(dir, `chunk_${id}.npy`);
      const d = await dqs(['download', String(id), '-o', file, '--server', server]);
      expect(d.status).toBe(0);
      const idx = join(dir, `chunk_${id}.index.npy`);
      expect((await dqs(['download', String(id), '-o', idx, '--index', '--server', server])).status).toBe(0);
      const sim = readGrid(file);
      const index = readGrid(idx).data as Uint32Array;
      expect(sim.shape).toEqual([TILE, TILE]);
      for (let c = 0; c < TILE * TILE; c++) {
        if (Number.isFinite(dis[id][c]))
          expect(sim.data[c]).toBe(dis[id][c]); // hard data kept
        else expect(sim.data[c]).toBe(tis[id][index[c]]); // from this job's own TI
      }
    }
    // the job grid drawn as the image: 101 102 on the first line, 103 104 on the second
    const text = (await dqs(['status', runId, '--server', server])).stdout.split('\n');
    expect(text[0]).toMatch(/completed, 100\.0%/);
    expect(text[1]).toMatch(/101 \[########\] 100% done .* 102 \[########\] 100% done/);
    expect(text[2]).toMatch(/103 .* 104 /);
    const m = await dqs(['mosaic', runId, '-o', join(dir, 'mosaic.npy'), '--server', server]);
    expect(m.status).toBe(0);
    const mosaic = readGrid(join(dir, 'mosaic.npy'));
    expect(mosaic.shape).toEqual([2 * TILE, 2 * TILE]);
    // laid out as the grid reads: 102 is right of 101, 103 below it
    const c102 = readGrid(join(dir, 'chunk_102.npy')).data;
    const c103 = readGrid(join(dir, 'chunk_103.npy')).data;
    expect(mosaic.data[0 * 80 + 40]).toBe(c102[0]);
    expect(mosaic.data[40 * 80 + 0]).toBe(c103[0]);
    // job ranges: several chunks at once, and a status limited to some jobs
    const many = await dqs(['download', '101-102,104', '-o', join(dir, 'range'), '--server', server]);
    expect(many.status).toBe(0);
    for (const id of [101, 102, 104])
      expect(readGrid(join(dir, 'range', `chunk_${id}.npy`)).shape).toEqual([TILE, TILE]);
    expect(existsSync(join(dir, 'range', 'chunk_103.npy'))).toBe(false);
    const some = (await dqs(['status', runId, '--jobs', '101,103', '--server', server])).stdout;
    expect(some).toMatch(/^101: durable 100%$/m);
    expect(some).toMatch(/^103: durable 100%$/m);
    expect(some).not.toMatch(/^102:/m);
    const bad = await dqs(['download', '9-3', '-o', dir, '--server', server]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/runs backwards; write 3-9/);
    expect((await dqs(['mosaic', runId, '-o', join(dir, 'mosaic.png'), '--server', server])).status).toBe(0);
    expect(readFileSync(join(dir, 'mosaic.png')).subarray(1, 4).toString()).toBe('PNG');
    expect((await dqs(['download', '101', '-o', join(dir, 'c.tiff'), '--server', server])).status).toBe(0);
    expect(readGrid(join(dir, 'c.tiff')).shape).toEqual([TILE, TILE]);
  });
});

describe('distributed runs against the real services', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ workers: 1, slots: 1 });
    await prep(t.client, [1, 2, 3, 4, 5, 6, 7, 8, 9, 201]);
    // larger tiles for the kill test, so that the run is still going when it is killed
    const ti = await t.client.uploadArray(nd([80, 80], stone.data));
    const big = await t.client.uploadArray(nd([160, 160], new Float32Array(160 * 160).fill(NaN)));
    for (const id of [301, 302]) await t.client.json('POST', '/v1/prep', { id, ti: [ti], di: big, dt: [0] });
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  let reference: Buffer;
  it('a 2x2 grid with one worker slot, then with three workers: the same bytes', async () => {
    const a = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [
        [1, 2],
        [3, 4],
      ],
    });
    expect((await waitFor(t.client, a.runId)).state).toBe('completed');
    reference = await mosaicOf(t.client, a.runId);
    await t.stack.addWorker();
    await t.stack.addWorker();
    const b = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [
        [1, 2],
        [3, 4],
      ],
    });
    expect((await waitFor(t.client, b.runId)).state).toBe('completed');
    expect((await mosaicOf(t.client, b.runId)).equals(reference)).toBe(true);
    for (const w of t.stack.workers().slice(1)) w.child.kill('SIGTERM');
  });

  it('pause and resume (API and CLI) leave the bytes unchanged, and a paused run does not advance', async () => {
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [
        [1, 2],
        [3, 4],
      ],
    });
    const p = await dqs(['pause', run.runId, '--server', t.stack.url]);
    // (stderr shown too when it fails)
    expect({ out: p.stdout, err: p.stderr }).toMatchObject({ out: expect.stringContaining('paused') });
    // chunks already running stop at their next cell and report it (with their last count)
    let a = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
    while (a.chunks.some((c) => c.state === 'running' || c.state === 'blocked')) {
      await new Promise((r) => setTimeout(r, 100));
      a = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
    }
    await new Promise((r) => setTimeout(r, 1500));
    const b = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
    expect(a.state).toBe('paused');
    expect(b.progress).toBe(a.progress);
    expect(b.progress).toBeLessThan(100);
    await expect(t.client.json('POST', `/v1/runs/${run.runId}/pause`)).rejects.toThrow(
      /only a queued or running run can be paused/,
    );
    expect((await dqs(['resume', run.runId, '--server', t.stack.url])).status).toBe(0);
    expect((await waitFor(t.client, run.runId)).state).toBe('completed');
    expect((await mosaicOf(t.client, run.runId)).equals(reference)).toBe(true);
  });

  it('runs a run file from dqs template, and tells its webhook how it ended', async () => {
    const received: { event: string; state: string; runId: string; jobs: { state: string }[] }[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const port = (hook.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'dqs-template-'));
    try {
      const file = join(dir, 'run.yaml');
      expect((await dqs(['template', '-o', file])).status).toBe(0);
      const text = readFileSync(file, 'utf8')
        .replace('jg: [[101, 102], [103, 104]]', 'jg: [[1, 2], [3, 4]]')
        .replace('n: [50]', 'n: [20]')
        .replace('j: 0.5', 'j: 1')
        .replace('ks: null', 'ks: [21]')
        .replace('webhook: null', `webhook: http://127.0.0.1:${port}/done`)
        .replace('server: null', `server: ${t.stack.url}`);
      writeFileSync(file, text);
      const sub = await dqs(['dm', '--config', file, '--submit-only']);
      expect(sub.stderr).toBe('');
      const runId = sub.stdout.trim();
      expect((await waitFor(t.client, runId)).state).toBe('completed');
      // the same bytes as the same run given by flags (the first test's reference)
      expect((await mosaicOf(t.client, runId)).equals(reference)).toBe(true);
      for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ event: 'run.completed', state: 'completed', runId });
      expect(received[0].jobs.every((j) => j.state === 'durable')).toBe(true);
      writeFileSync(file, text + 'colour: blue\n');
      const bad = await dqs(['dm', '--config', file]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/unknown field 'colour'/);
    } finally {
      hook.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a 1x1 grid gives the same bytes as dqs qs with the same inputs and seed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dqs-1x1-'));
    writeGrid(join(dir, 'ti.npy'), nd([80, 80], stone.data));
    writeGrid(join(dir, 'di.npy'), nd([TILE, TILE], emptyDi(97))); // job 201 was prepared with this DI (201 % 3 = 0)
    const local = await dqs([
      'qs',
      '-ti',
      join(dir, 'ti.npy'),
      '-di',
      join(dir, 'di.npy'),
      '-dt',
      '0',
      '-k',
      '1.2',
      '-n',
      '20',
      '-s',
      '100',
      '-j',
      '1',
      '-ks',
      '21',
      '-o',
      join(dir, 'local'),
      '--quiet',
    ]);
    expect(local.status).toBe(0);
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: [[201]] });
    expect((await waitFor(t.client, run.runId)).state).toBe('completed');
    const chunk = Buffer.from(await t.client.bytes(`/v1/runs/${run.runId}/chunks/201`));
    expect(chunk.equals(readFileSync(join(dir, 'local.npy')))).toBe(true);
    const index = Buffer.from(await t.client.bytes(`/v1/runs/${run.runId}/chunks/201?part=index`));
    expect(index.equals(readFileSync(join(dir, 'local.index.npy')))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a 3x3 grid completes with a single worker slot (no deadlock), without seams', async () => {
    expect(t.stack.workers()).toHaveLength(1);
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
    });
    const s = await waitFor(t.client, run.runId, 180000);
    expect(s.state).toBe('completed');
    expect(s.progress).toBe(100);
    const m = parseNpy(await mosaicOf(t.client, run.runId));
    expect(m.shape).toEqual([120, 120]);
    const ratio = seamRatio(m.data as Float32Array, 120, TILE);
    // G2S's own 3x3 stone run: 0.99; a naive mosaic of independent tiles: 3.3
    expect(ratio).toBeLessThan(1.35);
  });

  it('every bad input is a 4xx naming the problem, and nothing is enqueued', async () => {
    const before = (await t.client.json<unknown[]>('GET', '/v1/runs')).length;
    const cases: [unknown, RegExp][] = [
      [{ ...RUN, jg: [[1, 2], [3]] }, /jg: ragged grid/],
      [{ ...RUN, jg: [] }, /jg: empty list/],
      [
        {
          ...RUN,
          jg: [
            [1, 2],
            [3, 4],
          ],
          eg: [['a:1', 'b:2']],
        },
        /eg: shape \[1, 2\] does not match the job grid's \[2, 2\]/,
      ],
      [
        {
          ...RUN,
          jg: [
            [1, 2],
            [3, 4],
          ],
          di_grid_json: [['input_di_1'], ['input_di_2']],
        },
        /di_grid_json: shape \[2, 1\] does not match/,
      ],
      [
        {
          ...RUN,
          jg: [
            [1, 2],
            [2, 4],
          ],
        },
        /job id 2 appears more than once/,
      ],
      [
        { ...RUN, jg: [[1, 777]] },
        /job 777: no DI named input_di_777 in namespace default; prepare it first/,
      ],
      [{ ...RUN, jg: [[1, 2]], ks: [101] }, /(halo .* is wider than a tile|kernel .* is larger than)/],
      [
        { ...RUN, jg: [[1, 2]], ks: [101], cti: true },
        /halo \(50 cells: half the kernel\) is wider than a tile \(40 cells\)/,
      ],
      [{ ...RUN, jg: '../../etc/passwd' }, /jg: '..\/..\/etc\/passwd' is outside the data directory/],
      [{ ...RUN, jg: '[[1, 2' }, /jg: invalid JSON/],
      [{ ...RUN, jg: [[1, 2]], foo: 1 }, /property foo should not exist/],
      [{ ...RUN, jg: [[1, 2]], k: 0.5 }, /k must be a number >= 1/],
      [{ ...RUN, jg: [[1, -2]] }, /negative job id -2/],
      [
        { ...RUN, jg: [[1, 2]], dt: [0, 0] },
        /2 variable types are given, so the last axis must have 2 entries/,
      ],
    ];
    for (const [body, message] of cases) {
      let error: DqsServerError | undefined;
      try {
        await t.client.json('POST', '/v1/runs', body);
      } catch (e) {
        error = e as DqsServerError;
      }
      if (!error) throw new Error(`accepted: ${JSON.stringify(body)}`);
      expect(error).toBeInstanceOf(DqsServerError);
      expect(error!.status).toBe(400);
      expect(error!.message).toMatch(message);
    }
    expect((await t.client.json<unknown[]>('GET', '/v1/runs')).length).toBe(before);
    // prep and uploads too
    await expect(
      t.client.json('POST', '/v1/prep', { id: 5, ti: ['0'.repeat(64)], di: '0'.repeat(64), dt: [0] }),
    ).rejects.toThrow(/no uploaded array/);
    await expect(t.client.json('POST', '/v1/prep', { id: 'x', ti: [], di: 'a', dt: [] })).rejects.toThrow(
      /id must be a non-negative integer/,
    );
    const res = await fetch(`${t.stack.url}/v1/arrays`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'not an npy',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/not a readable NPY array/);
  });

  it('kill stops every chunk of a run within seconds', async () => {
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      n: [40],
      ks: [31],
      jg: [[301, 302]],
    });
    for (;;) {
      const s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      if (s.chunks.some((c) => c.state === 'running' || c.state === 'blocked')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const killed = Date.now();
    const k = await dqs(['kill', run.runId, '--server', t.stack.url]);
    expect(k.status).toBe(0);
    for (;;) {
      const s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      expect(s.state).toBe('cancelled');
      if (s.chunks.every((c) => c.state === 'cancelled' || c.state === 'waiting')) break;
      expect(Date.now() - killed).toBeLessThan(5000);
      await new Promise((r) => setTimeout(r, 100));
    }
    // a cancelled run is not resurrected, and the worker takes new work
    const next = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: [[201]] });
    expect((await waitFor(t.client, next.runId)).state).toBe('completed');
    expect((await t.client.json<Status>('GET', `/v1/runs/${run.runId}`)).state).toBe('cancelled');
  });

  it("a chunk that fails for good fails its run with that chunk's error", async () => {
    // job 401's DI disappears from the data directory after submission
    const ti = await t.client.uploadArray(nd([80, 80], stone.data));
    const unique = emptyDi(0);
    unique[5] = 0.123;
    const diSha = await t.client.uploadArray(nd([TILE, TILE], unique));
    await t.client.json('POST', '/v1/prep', { id: 401, ti: [ti], di: diSha, dt: [0] });
    await t.client.json('POST', '/v1/prep', {
      id: 402,
      ti: [ti],
      di: await t.client.uploadArray(nd([TILE, TILE], emptyDi(0))),
      dt: [0],
    });
    for (const w of t.stack.workers()) w.child.kill('SIGSTOP');
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: [[401, 402]] });
    unlinkSync(join(t.dataDir, 'arrays', `${diSha}.npy`));
    for (const w of t.stack.workers()) w.child.kill('SIGCONT');
    const s = await waitFor(t.client, run.runId);
    expect(s.state).toBe('failed');
    // 401 itself, or its neighbour 402 (which reads 401's DI for its halo), whichever fails first
    expect(s.error).toMatch(
      /chunk 40[12] failed: DI of job 401: cannot read stored array .*(ENOENT|no such file)/i,
    );
  });
});

describe('a worker killed with SIGKILL in the middle of a run', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ workers: 2, slots: 1 });
    await prep(t.client, [1, 2, 3, 4]);
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it('the run still completes, with the same bytes as an undisturbed run', async () => {
    const quiet = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [
        [1, 2],
        [3, 4],
      ],
    });
    expect((await waitFor(t.client, quiet.runId)).state).toBe('completed');
    const expected = await mosaicOf(t.client, quiet.runId);
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [
        [1, 2],
        [3, 4],
      ],
    });
    for (;;) {
      const s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      if (s.progress > 15) break;
      expect(s.state).not.toBe('completed');
      await new Promise((r) => setTimeout(r, 50));
    }
    const victim = t.stack.workers()[0];
    victim.child.kill('SIGKILL');
    await victim.exited;
    const s = await waitFor(t.client, run.runId, 120000);
    expect(s.state).toBe('completed');
    expect((await mosaicOf(t.client, run.runId)).equals(expected)).toBe(true);
  });
});

describe('the coordinator as a server: token, Bull Board login, upload limit, health, metrics, OpenAPI', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ workers: 1, env: { DQS_TOKEN: 'sekret', DQS_MAX_UPLOAD_MB: '1' } });
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it('needs the token for every change, not for reading', async () => {
    const npy = serializeNpy(nd([4, 4], new Float32Array(16)));
    const anonymous = await fetch(`${t.stack.url}/v1/arrays`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(npy),
    });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { message: string }).message).toMatch(/needs a token/);
    const wrong = await fetch(`${t.stack.url}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
      body: '{}',
    });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${t.stack.url}/v1/runs`)).status).toBe(200);
    const authed = new DqsClient(t.stack.url, 'sekret');
    expect(await authed.uploadArray(nd([4, 4], new Float32Array(16)))).toMatch(/^[0-9a-f]{64}$/);
    const cli = await dqs(['kill', 'rnope', '--server', t.stack.url]);
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/needs a token/);
  });

  it('refuses uploads over the size limit', async () => {
    const big = serializeNpy(nd([600, 600], new Float32Array(360000)));
    const res = await fetch(`${t.stack.url}/v1/arrays`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: 'Bearer sekret' },
      body: Buffer.from(big),
    });
    expect(res.status).toBe(413);
  });

  it('keeps Bull Board behind a login, and serves health, metrics and OpenAPI', async () => {
    expect((await fetch(`${t.stack.url}/queues`)).status).toBe(401);
    const basic = (p: string) => `Basic ${Buffer.from(`dqs:${p}`).toString('base64')}`;
    expect(
      (await fetch(`${t.stack.url}/queues`, { headers: { authorization: basic('wrong') } })).status,
    ).toBe(401);
    const board = await fetch(`${t.stack.url}/queues/api/queues`, {
      headers: { authorization: basic('sekret') },
    });
    expect(board.status).toBe(200);
    expect(JSON.stringify(await board.json())).toContain('chunks');
    const health = (await (await fetch(`${t.stack.url}/health`)).json()) as { status: string; redis: string };
    expect(health).toMatchObject({ status: 'ok', redis: 'PONG' });
    const metrics = await (await fetch(`${t.stack.url}/metrics`)).text();
    expect(metrics).toMatch(/dqs_queue_jobs\{queue="chunks",state="waiting"\} \d+/);
    expect(metrics).toMatch(/dqs_workers \d+/);
    const docs = await fetch(`${t.stack.url}/docs-json`);
    expect(docs.status).toBe(200);
    expect(Object.keys(((await docs.json()) as { paths: object }).paths)).toEqual(
      expect.arrayContaining(['/v1/runs', '/v1/prep', '/v1/arrays', '/v1/chunks/{jobId}']),
    );
  });
});

describe('a worker that may hold only one chunk', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({
      workers: 1,
      slots: 1,
      env: { DQS_MAX_HELD_CHUNKS: '1', DQS_YIELD_AFTER_MS: '100' },
    });
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it('sends a blocked chunk back to the queue; it resumes from its stream, and the bytes are those of a normal run', async () => {
    const ti = await t.client.uploadArray(nd([80, 80], stone.data));
    const di = await t.client.uploadArray(nd([20, 20], new Float32Array(400).fill(NaN)));
    for (const id of [1, 2]) await t.client.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
    const body = { jg: [[1, 2]], dt: [0], k: 1.2, n: [12], s: 3, j: 1, ks: [7] };
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', body);
    // progress never goes back, though chunks leave their slot and come back
    const seen: number[] = [];
    for (let s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`); ;) {
      seen.push(s.progress);
      if (['completed', 'failed', 'cancelled'].includes(s.state)) break;
      await new Promise((r) => setTimeout(r, 50));
      s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
    }
    expect(seen[seen.length - 1]).toBe(100);
    expect(seen.every((p, i) => i === 0 || p >= seen[i - 1])).toBe(true);
    const yielded = await t.client.bytes(`/v1/runs/${run.runId}/mosaic`);
    // the same run on a normal worker, and the 1x2 run through the halo library directly, agree
    const normal = await startTestStack({ workers: 1, slots: 1 });
    try {
      const ti2 = await normal.client.uploadArray(nd([80, 80], stone.data));
      const di2 = await normal.client.uploadArray(nd([20, 20], new Float32Array(400).fill(NaN)));
      for (const id of [1, 2])
        await normal.client.json('POST', '/v1/prep', { id, ti: [ti2], di: di2, dt: [0] });
      const ref = await normal.client.json<{ runId: string }>('POST', '/v1/runs', body);
      expect((await waitFor(normal.client, ref.runId)).state).toBe('completed');
      expect(
        Buffer.from(yielded).equals(Buffer.from(await normal.client.bytes(`/v1/runs/${ref.runId}/mosaic`))),
      ).toBe(true);
    } finally {
      await normal.stack.stop();
    }
    const log = readFileSync(join(t.dataDir, '..', 'logs', 'worker-1.log'), 'utf8');
    expect(log).toMatch(/blocked, back to the queue/);
  });
});

describe('the worker fleet: registry, worker pause, drain on SIGTERM', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ workers: 2, slots: 1, threads: 1, env: { DQS_CAPABILITIES: 'cpu,avx2' } });
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  /** Larger tiles than the other tests, so that runs are still going when a worker is paused or stopped. */
  const big = { ...RUN, n: [30], jg: [[21, 22]] };
  let expected: Buffer;

  it('lists the live workers with their slots, threads and capabilities', async () => {
    const list = await t.client.json<WorkerInfo[]>('GET', '/v1/workers');
    expect(list.map((w) => w.name).sort()).toEqual(['worker-1', 'worker-2']);
    for (const w of list)
      expect(w).toMatchObject({ slots: 1, threads: 1, capabilities: ['cpu', 'avx2'], paused: false });
    const text = await dqs(['workers', '--server', t.stack.url]);
    expect(text.stdout).toMatch(/worker-1: running, 1 slot\(s\) x 1 thread\(s\), capabilities cpu,avx2/);
  });

  it('a paused worker takes no new chunk and hands its chunks back: the run goes on elsewhere, same bytes', async () => {
    // larger tiles than the other tests, so that the run is still going when its worker is paused
    const ti = await t.client.uploadArray(nd([80, 80], stone.data));
    const di = await t.client.uploadArray(nd([160, 160], new Float32Array(160 * 160).fill(NaN)));
    for (const id of [21, 22]) await t.client.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
    const quiet = await t.client.json<{ runId: string }>('POST', '/v1/runs', big);
    expect((await waitFor(t.client, quiet.runId)).state).toBe('completed');
    expected = await mosaicOf(t.client, quiet.runId);
    const pausedWorkers = async (names: string[]) => {
      for (;;) {
        const listed = await t.client.json<WorkerInfo[]>('GET', '/v1/workers');
        if (names.every((n) => listed.find((w) => w.name === n)?.paused)) return listed;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    expect((await dqs(['workers', 'pause', 'worker-2', '--server', t.stack.url])).status).toBe(0);
    await pausedWorkers(['worker-2']);
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', big);
    // worker-1 alone; pause it too once it holds a chunk
    for (;;) {
      const s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      expect(s.chunks.every((c) => c.worker !== 'worker-2')).toBe(true);
      if (s.progress > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await dqs(['workers', 'pause', 'worker-1', '--server', t.stack.url])).status).toBe(0);
    // whatever happens, resume both so that the next tests have workers
    const resumeAll = () =>
      Promise.all(
        ['worker-1', 'worker-2'].map((w) => dqs(['workers', 'resume', w, '--server', t.stack.url])),
      );
    try {
      expect((await pausedWorkers(['worker-1', 'worker-2'])).every((w) => w.paused)).toBe(true);
      // its chunks went back to the queue: none runs, and nothing advances
      let a = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      while (a.chunks.some((c) => c.state === 'running' || c.state === 'blocked')) {
        await new Promise((r) => setTimeout(r, 100));
        a = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      }
      await new Promise((r) => setTimeout(r, 1500));
      const b = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      expect(b.progress).toBe(a.progress);
      expect(b.progress).toBeLessThan(100);
      await expect(t.client.json('POST', '/v1/workers/nobody/pause')).rejects.toThrow(
        /no live worker named nobody/,
      );
      // worker-2 back, worker-1 still paused: the run goes on, on worker-2
      expect((await dqs(['workers', 'resume', 'worker-2', '--server', t.stack.url])).status).toBe(0);
      for (;;) {
        const s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
        if (s.progress > b.progress && s.chunks.some((c) => c.worker === 'worker-2')) break;
        expect(s.chunks.every((c) => c.worker !== 'worker-1' || c.state !== 'running')).toBe(true);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await resumeAll();
    }
    expect((await waitFor(t.client, run.runId)).state).toBe('completed');
    expect((await mosaicOf(t.client, run.runId)).equals(expected)).toBe(true);
    const logs = (await dqs(['logs', run.runId, '--server', t.stack.url])).stdout;
    expect(logs).toMatch(/worker worker-1 paused: back to the queue after \d+ cells/);
  });

  it('SIGTERM drains a worker: its chunk goes back to the queue and finishes elsewhere with the same bytes', async () => {
    const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', big);
    // the victim: a worker simulating a chunk of this run
    let name = '';
    let jobId = '';
    while (!name) {
      const s = await t.client.json<Status>('GET', `/v1/runs/${run.runId}`);
      const c = s.chunks.find((ch) => ch.worker && ch.state === 'running' && ch.progress > 0);
      name = c?.worker ?? '';
      jobId = c?.jobId ?? '';
      await new Promise((r) => setTimeout(r, 100));
    }
    const victim = t.stack.workers().find((w) => w.name === name)!;
    const stopped = Date.now();
    victim.child.kill('SIGTERM');
    await victim.exited; // Nest re-raises the signal once the worker has drained
    expect(victim.child.signalCode === 'SIGTERM' || victim.child.exitCode === 0).toBe(true);
    expect(Date.now() - stopped).toBeLessThan(10000);
    expect((await waitFor(t.client, run.runId)).state).toBe('completed');
    expect((await mosaicOf(t.client, run.runId)).equals(expected)).toBe(true);
    const log = readFileSync(join(t.dataDir, '..', 'logs', `${name}.log`), 'utf8');
    expect(log).toMatch(/worker stopping, back to the queue/);
    const list = await t.client.json<WorkerInfo[]>('GET', '/v1/workers');
    const other = name === 'worker-1' ? 'worker-2' : 'worker-1';
    expect(list.map((w) => w.name)).toEqual([other]);
    // the chunk's own log tells the story, by job range
    const logs = (await dqs(['logs', run.runId, '--jobs', jobId, '--server', t.stack.url])).stdout;
    expect(logs).toMatch(new RegExp(`== job ${jobId}\\n.*started on ${name}`));
    expect(logs).toMatch(/worker stopping: back to the queue after \d+ cells/);
    expect(logs).toMatch(new RegExp(`started on ${other} \\(attempt`));
    expect(logs).toMatch(/simulated 25600 cells \(\d+ replayed from its stream\)/);
    expect(logs).toMatch(/output written \(durable\)/);
  });
});

describe('clean-up under a retention policy', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({
      workers: 1,
      slots: 1,
      env: { DQS_RETENTION_SECONDS: '3', DQS_SWEEP_SECONDS: '1' },
    });
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it('leaves no halo stream, run record or orphan array behind, and keeps outputs and prepared inputs', async () => {
    const redis = new Redis(t.stack.redisUrl);
    try {
      await prep(t.client, [1, 2]);
      const orphan = await t.client.uploadArray(nd([3, 3], new Float32Array(9).fill(7)));
      // a cancelled run keeps its halo streams (for dqs retry) until the retention, then they go too
      const cancelled = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: [[1, 2]] });
      // stop the worker once the run has written cells, so that the kill lands before it ends
      while ((await redis.keys(`dqs:{${cancelled.runId}}:di:*`)).length === 0)
        await new Promise((r) => setTimeout(r, 10));
      for (const w of t.stack.workers()) w.child.kill('SIGSTOP');
      await t.client.json('POST', `/v1/runs/${cancelled.runId}/kill`);
      for (const w of t.stack.workers()) w.child.kill('SIGCONT');
      await new Promise((r) => setTimeout(r, 1500)); // a sweep or two, within the retention
      expect((await t.client.json<Status>('GET', `/v1/runs/${cancelled.runId}`)).state).toBe('cancelled');
      expect((await redis.keys(`dqs:{${cancelled.runId}}:di:*`)).length).toBeGreaterThan(0);
      const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: [[1, 2]] });
      expect((await waitFor(t.client, run.runId)).state).toBe('completed');
      const mosaicFile = join(t.dataDir, 'archive', 'default', 'default', run.runId, 'mosaic.npy');
      expect(existsSync(mosaicFile)).toBe(true);
      // within the retention the run is still there; halo streams go as soon as it has ended
      expect((await t.client.json<Status>('GET', `/v1/runs/${run.runId}`)).state).toBe('completed');
      expect(await redis.keys(`dqs:{${run.runId}}:di:*`)).toEqual([]);
      // after it, nothing of the run is left in Redis, and the orphan array is gone
      await new Promise((r) => setTimeout(r, 5500));
      expect(await redis.keys(`dqs:{${run.runId}}:*`)).toEqual([]);
      expect(await redis.keys(`dqs:{${cancelled.runId}}:*`)).toEqual([]);
      await expect(t.client.json('GET', `/v1/runs/${run.runId}`)).rejects.toThrow(/no run/);
      expect(existsSync(join(t.dataDir, 'arrays', `${orphan}.npy`))).toBe(false);
      // prepared inputs and outputs stay
      const names = readFileSync(join(t.dataDir, 'names', 'default', 'input_di_1.json'), 'utf8');
      const diSha = (JSON.parse(names) as { sha256: string }).sha256;
      expect(existsSync(join(t.dataDir, 'arrays', `${diSha}.npy`))).toBe(true);
      expect(existsSync(mosaicFile)).toBe(true);
      const log = readFileSync(join(t.dataDir, '..', 'logs', 'results.log'), 'utf8');
      expect(log).toMatch(
        /clean-up: \d+ halo stream\(s\), 1 old run record\(s\), 1 orphan array\(s\) removed|clean-up: 0 halo stream\(s\), 1 old run record\(s\)/,
      );
    } finally {
      redis.disconnect();
    }
  });
});

describe('capabilities', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ workers: 1, slots: 1 });
    await prep(t.client, [1, 2, 3, 4]);
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it("takes a run's chunks only on workers with every required capability, and says so while none is live", async () => {
    // dqs dm in the foreground says why it waits
    const dm = spawn(
      process.execPath,
      [DQS, 'dm', '-jg', '[[1,2],[3,4]]', '-dt', '0', '-k', '1.2', '-n', '20', '-s', '100', '-j', '1'].concat(
        ['-ks', '21', '--requires', 'gpu,highmem', '--server', t.stack.url],
      ),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let said = '';
    dm.stderr.setEncoding('utf8').on('data', (d: string) => (said += d));
    const dmExit = new Promise<number | null>((r) => dm.once('close', r));
    for (let i = 0; !/waits: no live worker has the capabilities gpu, highmem/.test(said); i++) {
      if (i > 300) throw new Error(`dqs dm did not say why it waits: ${said}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = { runId: /run (\S+) \(namespace/.exec(said)![1] };
    const waiting = await t.client.json<Status & { waitingFor?: string }>('GET', `/v1/runs/${run.runId}`);
    expect(waiting.progress).toBe(0);
    expect(waiting.chunks.every((c) => c.state === 'waiting')).toBe(true);
    expect(waiting.waitingFor).toMatch(
      /no live worker has the capabilities gpu, highmem: start one with DQS_CAPABILITIES=gpu,highmem/,
    );
    // a worker with only one of them does not take it either
    await t.stack.addWorker({ DQS_CAPABILITIES: 'gpu' });
    await new Promise((r) => setTimeout(r, 4000));
    expect((await t.client.json<Status>('GET', `/v1/runs/${run.runId}`)).progress).toBe(0);
    await t.stack.addWorker({ DQS_CAPABILITIES: 'cpu,gpu,highmem' });
    const done = await waitFor(t.client, run.runId);
    expect(done.state).toBe('completed');
    expect(done.chunks.every((c) => c.worker === 'worker-3')).toBe(true);
    expect(await dmExit).toBe(0);
    expect(said).toMatch(/run \S+ goes on/);
    // a run without requirements still runs anywhere
    const plain = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: [[1, 2]] });
    expect((await waitFor(t.client, plain.runId)).state).toBe('completed');
    await expect(
      t.client.json('POST', '/v1/runs', { ...RUN, jg: [[1, 2]], requires: ['bad tag'] }),
    ).rejects.toThrow(/each capability is a word/);
  });
});
