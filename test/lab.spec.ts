/**
 * dqs run like a lab cluster, end to end against real processes: namespaces and batches, the archive and
 * dqs fetch with filters, killing chunks by range and retrying them (or a failed run), and the attached CLI mode.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy, writeGrid } from '@dqs/grids';
import { DqsClient } from '../apps/cli/src/dqs-client';
import { runDqs } from './support/cli';
import { stoneLike } from './support/training-images';
import { TestStack, mosaicOf, nd, startTestStack, waitForRun } from './support/stack';

const stone = stoneLike(80, 80);
const TILE = 40;
const RUN = { dt: [0], k: 1.2, n: [20], s: 100, j: 1, ks: [21] };

interface Status {
  runId: string;
  namespace: string;
  batch: string;
  state: string;
  progress: number;
  error?: string;
  waitingFor?: string;
  killed?: string[];
  chunks: { jobId: string; state: string; progress: number }[];
}

const emptyDi = () => new Float32Array(TILE * TILE).fill(NaN);

async function prep(c: DqsClient, ids: number[], namespace?: string, tiData = stone.data) {
  const ti = await c.uploadArray(nd([80, 80], tiData));
  const di = await c.uploadArray(nd([TILE, TILE], emptyDi()));
  for (const id of ids) await c.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0], namespace });
}

const waitFor = (c: DqsClient, runId: string, until?: string[]) => waitForRun<Status>(c, runId, { until });

function dqs(args: string[], env: NodeJS.ProcessEnv = {}) {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete e.DQS_URL;
  delete e.DQS_NAMESPACE;
  return runDqs(args, e, 240000);
}

const GRID = [
  [1, 2],
  [3, 4],
];

describe('namespaces, batches, the archive and dqs fetch', () => {
  let t: TestStack;
  const runs: Record<string, string> = {};
  beforeAll(async () => {
    t = await startTestStack({ workers: 2, slots: 1 });
    // the same job id in two namespaces, with different training images
    await prep(t.client, [101], 'alice');
    await prep(
      t.client,
      [101],
      'bob',
      stone.data.map((v) => v + 1000),
    );
    for (const [ns, batch] of [
      ['alice', 'nov'],
      ['bob', 'dec'],
    ]) {
      const r = await t.client.json<{ runId: string; namespace: string; batch: string }>('POST', '/v1/runs', {
        ...RUN,
        jg: [[101]],
        namespace: ns,
        batch,
      });
      expect([r.namespace, r.batch]).toEqual([ns, batch]);
      runs[ns] = r.runId;
    }
    for (const id of Object.values(runs)) expect((await waitFor(t.client, id)).state).toBe('completed');
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it("keeps two users' job 101 apart: inputs, runs and downloads by job id", async () => {
    const alice = parseNpy(Buffer.from(await t.client.bytes('/v1/chunks/101?namespace=alice')), 'alice')
      .data as Float32Array;
    const bob = parseNpy(Buffer.from(await t.client.bytes('/v1/chunks/101?namespace=bob')), 'bob')
      .data as Float32Array;
    // each run read its own namespace's training image
    expect(Math.max(...alice)).toBeLessThan(500);
    expect(Math.min(...bob)).toBeGreaterThan(500);
    await expect(t.client.bytes('/v1/chunks/101')).rejects.toThrow(/namespace default/);
    const list = await t.client.json<{ runId: string; namespace: string; batch: string }[]>(
      'GET',
      '/v1/runs?namespace=bob',
    );
    expect(list.map((r) => [r.runId, r.namespace, r.batch])).toEqual([[runs.bob, 'bob', 'dec']]);
    const st = await t.client.json<Status>('GET', `/v1/runs/${runs.alice}`);
    expect([st.namespace, st.batch]).toEqual(['alice', 'nov']);
    // the CLI: the list of a namespace, and a download by job id in a namespace
    const out = await dqs(['status', '--namespace', 'alice', '--server', t.stack.url]);
    expect(out.stdout).toContain(`${runs.alice}  alice/nov  completed`);
    expect(out.stdout).not.toContain(runs.bob);
    const dir = mkdtempSync(join(tmpdir(), 'dqs-ns-'));
    const d = await dqs([
      'download',
      '101',
      '-o',
      join(dir, 'b.npy'),
      '--namespace',
      'bob',
      '--server',
      t.stack.url,
    ]);
    expect(d.status).toBe(0);
    expect((parseNpy(readFileSync(join(dir, 'b.npy')), 'b').data as Float32Array)[0]).toBe(bob[0]);
  });

  it('refuses bad names and unprepared jobs of a namespace, naming them', async () => {
    await expect(
      t.client.json('POST', '/v1/runs', { ...RUN, jg: [[101]], namespace: 'carol' }),
    ).rejects.toThrow(/job 101: no DI named input_di_101 in namespace carol.*--namespace carol/);
    await expect(
      t.client.json('POST', '/v1/runs', { ...RUN, jg: [[101]], namespace: 'a b' }),
    ).rejects.toThrow(/namespace: 1-64 letters/);
    await expect(
      t.client.json('POST', '/v1/runs', { ...RUN, jg: [[101]], namespace: 'alice', batch: '../x' }),
    ).rejects.toThrow(/batch: 1-64 letters/);
    const bad = await dqs([
      'prep',
      '--id',
      '1',
      '-ti',
      'x',
      '-di',
      'y',
      '-dt',
      '0',
      '-ns',
      '-bad-',
      '--server',
      t.stack.url,
    ]);
    expect(bad.status).toBe(2);
  });

  it('archives outputs by namespace and batch, and fetches them with a filter', async () => {
    for (const [ns, batch] of [
      ['alice', 'nov'],
      ['bob', 'dec'],
    ]) {
      const dir = join(t.dataDir, 'archive', ns, batch, runs[ns]);
      expect(readdirSync(dir).sort()).toEqual(
        ['chunk_101.index.npy', 'chunk_101.npy', 'manifest.json', 'mosaic.index.npy', 'mosaic.npy'].sort(),
      );
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(manifest).toMatchObject({ runId: runs[ns], namespace: ns, batch, state: 'completed' });
    }
    // from the server: one namespace, then a batch across namespaces with a job range, then a date that excludes all
    const out = mkdtempSync(join(tmpdir(), 'dqs-fetch-'));
    const one = await dqs(['fetch', '--namespace', 'alice', '-o', out, '--server', t.stack.url]);
    expect(one.status).toBe(0);
    expect(one.stdout).toMatch(/fetched 3 file\(s\).* of 1 run\(s\)/);
    const fetched = join(out, 'alice', 'nov', runs.alice);
    expect(readFileSync(join(fetched, 'chunk_101.npy'))).toEqual(
      readFileSync(join(t.dataDir, 'archive', 'alice', 'nov', runs.alice, 'chunk_101.npy')),
    );
    expect(existsSync(join(fetched, 'mosaic.npy'))).toBe(true);
    expect(existsSync(join(out, 'bob'))).toBe(false);
    const again = await dqs(['fetch', '--namespace', 'alice', '-o', out, '--server', t.stack.url]);
    expect(again.stdout).toMatch(/2 already there/);
    const out2 = mkdtempSync(join(tmpdir(), 'dqs-fetch-'));
    const ranged = await dqs([
      'fetch',
      '-ns',
      '*',
      '--batch',
      'dec',
      '--jobs',
      '100-101',
      '--index',
      '-o',
      out2,
      '--server',
      t.stack.url,
    ]);
    expect(ranged.status).toBe(0);
    expect(readdirSync(join(out2, 'bob', 'dec', runs.bob)).sort()).toEqual(
      ['chunk_101.index.npy', 'chunk_101.npy', 'manifest.json'].sort(),
    );
    const none = await dqs([
      'fetch',
      '-ns',
      '*',
      '--until',
      '2020-01-01',
      '-o',
      out2,
      '--server',
      t.stack.url,
    ]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/nothing in the archive of .* matches namespace \*, until 2020-01-01/);
    const today = new Date().toISOString().slice(0, 10);
    const listed = await dqs(['fetch', '-ns', 'bob', '--date', today, '--list', '--server', t.stack.url]);
    expect(listed.stdout).toContain(`bob/dec/${runs.bob}  completed`);
    // without a server: this machine's archive, read from the data directory
    const out3 = mkdtempSync(join(tmpdir(), 'dqs-fetch-'));
    const local = await dqs(['fetch', '-ns', 'bob', '--since', '1h', '-o', out3], {
      G2S_DATA_DIR: t.dataDir,
    });
    expect(local.status).toBe(0);
    expect(existsSync(join(out3, 'bob', 'dec', runs.bob, 'mosaic.npy'))).toBe(true);
    // bad filters are usage errors
    expect((await dqs(['fetch', '--since', 'yesterday', '-o', out3])).stderr).toMatch(
      /'yesterday' is not a date/,
    );
    expect((await dqs(['fetch', '--jobs', '5-1', '-o', out3])).stderr).toMatch(/runs backwards/);
    expect((await dqs(['fetch'])).stderr).toMatch(/-o DIR is required/);
    expect((await dqs(['fetch', '-o', join(out3, 'bob', 'dec', runs.bob, 'mosaic.npy')])).stderr).toMatch(
      /is a file; give a folder/,
    );
  });
});

describe('kill by range, retry, and retry of a failed run', () => {
  let t: TestStack;
  let reference: Buffer;
  beforeAll(async () => {
    t = await startTestStack({ workers: 2, slots: 1 });
    await prep(t.client, [1, 2, 3, 4]);
    const r = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: GRID });
    expect((await waitFor(t.client, r.runId)).state).toBe('completed');
    reference = await mosaicOf(t.client, r.runId);
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it('a killed chunk is parked, the run waits for it, and retry resumes it to the same bytes', async () => {
    const r = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: GRID });
    // paused at once, so that job 4 is surely unfinished when the kill (a CLI process) arrives
    await t.client.json('POST', `/v1/runs/${r.runId}/pause`);
    const k = await dqs(['kill', r.runId, '--jobs', '4', '--server', t.stack.url]);
    expect(k.status).toBe(0);
    expect(k.stdout).toContain(`killed jobs 4 (dqs retry ${r.runId} --jobs 4 resumes them)`);
    await t.client.json('POST', `/v1/runs/${r.runId}/resume`);
    // the others go as far as job 4's missing cells allow; the run stays running and says why
    await new Promise((res) => setTimeout(res, 4000));
    const s = await t.client.json<Status>('GET', `/v1/runs/${r.runId}`);
    expect(s.state).toBe('running');
    expect(s.killed).toEqual(['4']);
    expect(s.chunks.find((c) => c.jobId === '4')!.state).toBe('cancelled');
    expect(s.waitingFor).toMatch(/jobs 4 were killed and are parked: dqs retry/);
    const status = (await dqs(['status', r.runId, '--server', t.stack.url])).stdout;
    expect(status).toMatch(/waiting: jobs 4 were killed/);
    // retry by range: not-killed jobs are refused while the run is active
    expect((await dqs(['retry', r.runId, '--jobs', '1', '--server', t.stack.url])).stderr).toMatch(
      /none of jobs 1 was killed \(killed: 4\)/,
    );
    const retry = await dqs(['retry', r.runId, '--jobs', '3-4', '--server', t.stack.url]);
    expect(retry.status).toBe(0);
    expect(retry.stderr).toMatch(/retrying jobs 4 \(already written or not killed: 3\)/);
    expect((await waitFor(t.client, r.runId)).state).toBe('completed');
    expect((await mosaicOf(t.client, r.runId)).equals(reference)).toBe(true);
    const log = (await dqs(['logs', r.runId, '--jobs', '4', '--server', t.stack.url])).stdout;
    expect(log).toMatch(/killed by request/);
    expect(log).toMatch(/retried: back to the queue/);
    // kill by range on a finished run, and an unknown job
    expect((await dqs(['kill', r.runId, '--jobs', '4', '--server', t.stack.url])).stderr).toMatch(
      /already completed/,
    );
    expect((await dqs(['retry', r.runId, '--server', t.stack.url])).stderr).toMatch(
      /has completed: .*nothing to retry/,
    );
  });

  it('a killed run is retried to the bytes of an uninterrupted run', async () => {
    const r = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: GRID });
    await waitFor(t.client, r.runId, ['running']);
    await new Promise((res) => setTimeout(res, 300));
    await t.client.json('POST', `/v1/runs/${r.runId}/kill`);
    let s = await waitFor(t.client, r.runId);
    expect(s.state).toBe('cancelled');
    // its chunks stop at their next cell: wait for them rather than for a fixed time
    while (s.chunks.some((c) => c.state === 'running' || c.state === 'blocked')) {
      await new Promise((res) => setTimeout(res, 100));
      s = await t.client.json<Status>('GET', `/v1/runs/${r.runId}`);
    }
    const retry = await dqs(['retry', r.runId, '--server', t.stack.url]);
    expect(retry.status).toBe(0);
    expect((await mosaicOf(t.client, r.runId)).equals(reference)).toBe(true);
  });

  it('a failed run is retried from where its chunks stopped, to the bytes of an uninterrupted run', async () => {
    // job 9's DI becomes unreadable after submission: chunks fail and the run fails
    const ti = await t.client.uploadArray(nd([80, 80], stone.data));
    const unique = emptyDi();
    unique[7] = 0.25;
    const diSha = await t.client.uploadArray(nd([TILE, TILE], unique));
    const plain = await t.client.uploadArray(nd([TILE, TILE], emptyDi()));
    for (const [id, di] of [
      [6, plain],
      [7, plain],
      [8, plain],
      [9, diSha],
    ] as const)
      await t.client.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
    const grid = [
      [6, 7],
      [8, 9],
    ];
    const ref = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: grid });
    expect((await waitFor(t.client, ref.runId)).state).toBe('completed');
    const expected = await mosaicOf(t.client, ref.runId);

    const file = join(t.dataDir, 'arrays', `${diSha}.npy`);
    for (const w of t.stack.workers()) w.child.kill('SIGSTOP');
    const r = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: grid });
    renameSync(file, `${file}.away`);
    for (const w of t.stack.workers()) w.child.kill('SIGCONT');
    const failed = await waitFor(t.client, r.runId);
    expect(failed.state).toBe('failed');
    // its halo streams are kept for the retry; a range that leaves out an unfinished neighbour is refused
    const unfinished = failed.chunks.filter((c) => c.state !== 'durable').map((c) => c.jobId);
    expect(unfinished).toContain('9');
    const lonely = await dqs(['retry', r.runId, '--jobs', '9', '--server', t.stack.url]);
    if (unfinished.length > 1) {
      expect(lonely.status).toBe(2);
      expect(lonely.stderr).toMatch(
        /jobs 9 need their neighbours .* which are not written: retry them together/,
      );
    }
    renameSync(`${file}.away`, file);
    const retry = await dqs(['retry', r.runId, '--server', t.stack.url]);
    expect(retry.status).toBe(0);
    expect(retry.stdout.trim()).toBe(r.runId);
    const s = await t.client.json<Status & { retries: number }>('GET', `/v1/runs/${r.runId}`);
    expect(s.state).toBe('completed');
    expect(s.retries).toBe(1);
    expect((await mosaicOf(t.client, r.runId)).equals(expected)).toBe(true);
    const manifest = JSON.parse(
      readFileSync(join(t.dataDir, 'archive', 'default', 'default', r.runId, 'manifest.json'), 'utf8'),
    ) as { state: string };
    expect(manifest.state).toBe('completed');
  });
});

describe('the attached CLI: no server given', () => {
  it('prep and dm start a private stack, run, archive and stop; fetch reads the archive; others ask for a server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dqs-attached-'));
    const env = { G2S_DATA_DIR: join(dir, 'g2s'), REDIS_URL: '' };
    const ti = join(dir, 'ti.npy');
    const di = join(dir, 'di.npy');
    const npy = (file: string, shape: number[], data: Float32Array) => writeGrid(file, nd(shape, data));
    npy(ti, [80, 80], stone.data);
    npy(di, [TILE, TILE], emptyDi());
    for (const id of [1, 2]) {
      const p = await dqs(['prep', '--id', String(id), '-ti', ti, '-di', di, '-dt', '0', '-ns', 'lab'], env);
      expect(p.stderr).toMatch(/running attached on a private dqs stack with 0 worker/);
      expect(p.status).toBe(0);
      expect(p.stdout).toContain(`prepared job ${id} in namespace lab`);
    }
    const t0 = Date.now();
    const dm = await dqs(
      [
        'dm',
        '-jg',
        '[[1,2]]',
        '-dt',
        '0',
        '-k',
        '1.2',
        '-n',
        '20',
        '-s',
        '100',
        '-ks',
        '21',
        '-ns',
        'lab',
        '--batch',
        'b7',
        '--workers',
        '1',
      ],
      env,
    );
    expect(dm.status).toBe(0);
    const runId = dm.stdout.trim().split('\n').pop()!;
    expect(dm.stderr).toContain(
      `outputs archived in ${join(dir, 'g2s', 'data', 'archive', 'lab', 'b7', runId)}`,
    );
    expect(Date.now() - t0).toBeLessThan(60000);
    const out = join(dir, 'out');
    const f = await dqs(['fetch', '-ns', 'lab', '--batch', 'b7', '-o', out], env);
    expect(f.status).toBe(0);
    const mosaic = parseNpy(readFileSync(join(out, 'lab', 'b7', runId, 'mosaic.npy')), 'mosaic');
    expect(mosaic.shape).toEqual([TILE, 2 * TILE]);
    expect((mosaic.data as Float32Array).every((v) => Number.isFinite(v))).toBe(true);
    // a run id alone finds the run in whatever namespace it is
    expect((await dqs(['fetch', '--run', runId, '--list'], env)).stdout).toContain(
      `lab/b7/${runId}  completed`,
    );
    // commands that need a live server say so; --submit-only cannot outlive an attached stack
    const st = await dqs(['status', runId], env);
    expect(st.status).toBe(2);
    expect(st.stderr).toMatch(/dqs status needs a dqs server: give --server URL or set DQS_URL/);
    const so = await dqs(['dm', '-jg', '[[1,2]]', '-dt', '0', '-k', '1.2', '-n', '20', '--submit-only'], env);
    expect(so.status).toBe(2);
    expect(so.stderr).toMatch(/--submit-only needs a server/);
  });
});

describe('the attached CLI and capabilities', () => {
  it('refuses at once a requirement that its own workers cannot meet', async () => {
    const r = await dqs(['dm', '-jg', '[[1,2]]', '-dt', '0', '-k', '1.2', '-n', '20', '--requires', 'gpu'], {
      DQS_CAPABILITIES: '',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /--requires gpu: the private stack's workers would have no capabilities \(DQS_CAPABILITIES\), so no worker could take the run's chunks\. Give --server URL/,
    );
    expect(r.stderr).not.toMatch(/running attached/); // refused before any stack started
  });
});

describe('one pool of slots for every queue a worker serves', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ workers: 0, slots: 1 });
    await t.stack.addWorker({ DQS_CAPABILITIES: 'gpu' });
    await prep(t.client, [11, 12, 13, 14, 15, 16]);
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it('a one-slot worker serving two capability queues computes one chunk at a time', async () => {
    // the worker serves the gpu queue once it exists (it looks for new queues every 3 s)
    const warm = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [[11]],
      requires: ['gpu'],
    });
    expect((await waitFor(t.client, warm.runId)).state).toBe('completed');
    // one-chunk runs (never blocked): three plain, three that require gpu, all queued at once
    const ids: string[] = [];
    for (const [i, id] of [11, 12, 13, 14, 15, 16].entries()) {
      const r = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
        ...RUN,
        n: [60],
        jg: [[id]],
        requires: i % 2 ? ['gpu'] : undefined,
      });
      ids.push(r.runId);
    }
    let most = 0;
    const states = new Set<string>();
    for (let ended = 0; ended < ids.length;) {
      const all = await Promise.all(ids.map((id) => t.client.json<Status>('GET', `/v1/runs/${id}`)));
      const running = all.filter((s) => s.chunks[0].state === 'running').length;
      most = Math.max(most, running);
      all.forEach((s) => states.add(s.chunks[0].state));
      ended = all.filter((s) => ['completed', 'failed', 'cancelled'].includes(s.state)).length;
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(states.has('running')).toBe(true);
    expect(most).toBe(1);
    for (const id of ids) expect((await waitFor(t.client, id)).state).toBe('completed');
  });

  it('serves the queue of its tags before the plain queue', async () => {
    // the gpu queue is served already (test above); queue a plain run, then a gpu run, while the worker is paused
    await t.client.json('POST', '/v1/workers/worker-1/pause');
    while (!(await t.client.json<{ paused: boolean }[]>('GET', '/v1/workers'))[0]?.paused)
      await new Promise((r) => setTimeout(r, 100));
    const plain = await t.client.json<{ runId: string }>('POST', '/v1/runs', { ...RUN, jg: [[11, 12]] });
    const gpu = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
      ...RUN,
      jg: [[13, 14]],
      requires: ['gpu'],
    });
    await t.client.json('POST', '/v1/workers/worker-1/resume');
    for (const r of [plain, gpu]) expect((await waitFor(t.client, r.runId)).state).toBe('completed');
    // when each chunk first started, from its log
    const starts = async (runId: string, jobs: string[]) =>
      Promise.all(
        jobs.map(async (j) => {
          const { lines } = await t.client.json<{ lines: string[] }>(
            'GET',
            `/v1/runs/${runId}/chunks/${j}/log`,
          );
          return Date.parse(lines.find((l) => l.includes(' started on '))!.split(' ')[0]);
        }),
      );
    const gpuStarts = await starts(gpu.runId, ['13', '14']);
    const plainStarts = await starts(plain.runId, ['11', '12']);
    expect(Math.max(...gpuStarts)).toBeLessThanOrEqual(Math.min(...plainStarts));
  });
});
