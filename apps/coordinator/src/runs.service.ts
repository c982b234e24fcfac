/**
 * Validation and submission of prepared inputs and distributed runs. Everything is checked before anything is
 * enqueued: grid shapes, unique and prepared job ids, equal tiles, consistent parameters, halo not wider than
 * a tile. A run is one BullMQ flow: a parent per run (finalised by the results service) and a child per job.
 */
import {
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { InjectFlowProducer, InjectQueue } from '@nestjs/bullmq';
import { FlowProducer, Queue } from 'bullmq';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { toFloat32 } from '@dqs/grids';
import {
  CANCEL_CHANNEL,
  CHUNKS_QUEUE,
  CHUNK_QUEUES_KEY,
  chunkJobId,
  DEFAULT_BATCH,
  formatJobRanges,
  latestChunkJob,
  parseJobRanges,
  runJobId,
  DEFAULT_NAMESPACE,
  PAUSE_CHANNEL,
  chunkQueueFor,
  ChunkJobData,
  DmDto,
  GridSpecError,
  PrepDto,
  RUNS_QUEUE,
  RunParams,
  RunRecord,
  coordsOf,
  inputDiName,
  inputTiName,
  neighbourOffsets,
  parseJobGrid,
  parseNameGrid,
} from '@dqs/protocol';
import { QsInputError, checkParams, gridFromArray, haloOf, resolveThreadCount } from '@dqs/qs';
import {
  ArchiveManifest,
  ArrayStore,
  RunRepository,
  isSimulated,
  listArchive,
  pathInside,
  runOutputDir,
  runSummary,
  sendWebhook,
  writeManifest,
} from '@dqs/store';
import { qsParamsOf } from '@dqs/halo';
import { CoordinatorContext } from './coordinator-context';

export const FLOW = 'dqs-flow';

@Injectable()
export class RunsService {
  private readonly logger = new Logger('runs');

  constructor(
    private readonly ctx: CoordinatorContext,
    @InjectFlowProducer(FLOW) private readonly flow: FlowProducer,
    @InjectQueue(CHUNKS_QUEUE) private readonly chunks: Queue,
  ) {}

  private get store(): ArrayStore {
    return this.ctx.store;
  }
  private get runs(): RunRepository {
    return this.ctx.runs;
  }

  prep(dto: PrepDto): { id: string; namespace: string; names: string[] } {
    const id = String(dto.id);
    const ns = dto.namespace ?? DEFAULT_NAMESPACE;
    if (Number(id) > 0xffffffff) throw new BadRequestException('id: a job id must fit 32 bits');
    const V = dto.dt.length;
    const shapes: number[][] = [];
    const check = (sha: string, field: string) => {
      if (!this.store.has(sha))
        throw new BadRequestException(
          `${field}: no uploaded array ${sha}; upload it first (POST /v1/arrays)`,
        );
      const info = this.store.info(sha);
      try {
        shapes.push(gridFromArray(info.shape, new Float32Array(0), V, field).shape);
      } catch (e) {
        throw new BadRequestException((e as Error).message);
      }
    };
    dto.ti.forEach((sha, k) => check(sha, `ti[${k}]`));
    check(dto.di, 'di');
    const diRank = shapes[shapes.length - 1].length;
    shapes.slice(0, -1).forEach((s, k) => {
      if (s.length !== diRank)
        throw new BadRequestException(
          `ti[${k}] is ${s.length}D but di is ${diRank}D; they need the same number of spatial axes`,
        );
    });
    // drop TIs of an earlier prep of the same id that had more of them
    for (const old of this.store.listNames(ns, `input_ti_`)) {
      const m = /^input_ti_(\d+)_(\d+)$/.exec(old.name);
      if (m && m[2] === id && Number(m[1]) >= dto.ti.length) this.store.removeName(ns, old.name);
    }
    const names: string[] = [];
    dto.ti.forEach((sha, k) => {
      const info = this.store.info(sha);
      names.push(
        this.store.setName(ns, inputTiName(k, id), { sha256: sha, shape: info.shape, dt: dto.dt }).name,
      );
    });
    const di = this.store.info(dto.di);
    names.push(this.store.setName(ns, inputDiName(id), { sha256: dto.di, shape: di.shape, dt: dto.dt }).name);
    return { id, namespace: ns, names };
  }

  /** A grid argument: inline JSON (value or text), or a JSON file inside the data directory. */
  private resolveGridValue(value: unknown, field: string): unknown {
    if (typeof value !== 'string') return value;
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new BadRequestException(`${field}: invalid JSON (${(e as Error).message})`);
      }
    }
    const file = pathInside(this.ctx.dataDir, text);
    if (!file)
      throw new BadRequestException(
        `${field}: '${text}' is outside the data directory; give inline JSON or a file inside ${this.ctx.dataDir}`,
      );
    if (!existsSync(file))
      throw new BadRequestException(`${field}: '${text}' is neither JSON nor a file in the data directory`);
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new BadRequestException(`${field}: ${text} does not hold valid JSON (${(e as Error).message})`);
    }
  }

  async submit(dto: DmDto): Promise<{
    runId: string;
    namespace: string;
    batch: string;
    jobIds: string[];
    gridShape: number[];
    tileShape: number[];
    halo: number[];
    seed: number;
  }> {
    let grid;
    let diIds: string[];
    let endpoints: string[] | undefined;
    try {
      grid = parseJobGrid(this.resolveGridValue(dto.jg, 'jg'), 'jg');
      endpoints =
        dto.eg !== undefined ? parseNameGrid(this.resolveGridValue(dto.eg, 'eg'), 'eg', grid) : undefined;
      diIds =
        dto.di_grid_json !== undefined
          ? parseNameGrid(this.resolveGridValue(dto.di_grid_json, 'di_grid_json'), 'di_grid_json', grid)
          : grid.ids.map(inputDiName);
    } catch (e) {
      if (e instanceof GridSpecError) throw new BadRequestException(e.message);
      throw e;
    }
    const V = dto.dt.length;
    const namespace = dto.namespace ?? DEFAULT_NAMESPACE;
    const batch = dto.batch ?? DEFAULT_BATCH;
    const inNs = namespace === DEFAULT_NAMESPACE ? '' : ` --namespace ${namespace}`;
    if (dto.ki && !this.store.has(dto.ki))
      throw new BadRequestException(`ki: no uploaded array ${dto.ki}; upload the kernel first`);
    try {
      resolveThreadCount(dto.j);
    } catch (e) {
      throw new BadRequestException((e as Error).message);
    }
    const params: RunParams = {
      dt: dto.dt,
      k: dto.k,
      n: dto.n,
      seed: dto.s ?? randomInt(0, 2 ** 31),
      j: dto.j,
      ks: dto.ks,
      kernel: dto.ki,
      cti: dto.cti,
      forceSimulation: dto.forceSimulation,
    };
    // inputs of every job, checked as the chunks will load them
    const jobs = grid.ids.map((jobId, r) => {
      const di = this.store.getName(namespace, diIds[r]);
      if (!di) {
        throw new BadRequestException(
          `job ${jobId}: no DI named ${diIds[r]} in namespace ${namespace}; prepare it first (POST /v1/prep, or dqs prep --id ${jobId}${inNs} -ti ... -di ... -dt ...)`,
        );
      }
      const tis: string[] = [];
      for (let k = 0; ; k++) {
        const ti = this.store.getName(namespace, inputTiName(k, jobId));
        if (!ti) break;
        tis.push(ti.sha256);
      }
      if (tis.length === 0)
        throw new BadRequestException(
          `job ${jobId}: no training image input_ti_0_${jobId} in namespace ${namespace}; prepare the job first (POST /v1/prep, or dqs prep --id ${jobId}${inNs} ...)`,
        );
      return { jobId, r, diSha: di.sha256, tiShas: tis };
    });
    let tileShape: number[] | undefined;
    let halo: number[] | undefined;
    for (const job of jobs) {
      const label = (what: string) => `job ${job.jobId}: ${what}`;
      let kernelArray;
      try {
        const di = gridFromArray(this.store.info(job.diSha).shape, new Float32Array(0), V, label('DI'));
        if (!tileShape) tileShape = di.shape;
        else if (di.shape.length !== tileShape.length || di.shape.some((s, a) => s !== tileShape![a])) {
          throw new BadRequestException(
            `every tile must have the same shape: job ${jobs[0].jobId}'s DI is ${tileShape.join('x')}, job ${job.jobId}'s is ${di.shape.join('x')}`,
          );
        }
        if (grid.shape.length > di.shape.length) {
          throw new BadRequestException(
            `jg: a ${grid.shape.length}D job grid cannot split ${di.shape.length}D tiles`,
          );
        }
        const tis = job.tiShas.map((sha, k) => {
          const a = this.store.read(sha);
          return gridFromArray(a.shape, toFloat32(a), V, label(`TI ${k}`));
        });
        const diArray = this.store.read(job.diSha);
        kernelArray = dto.ki ? this.store.read(dto.ki) : undefined;
        const kernel = kernelArray
          ? { shape: kernelArray.shape, channels: 1, data: toFloat32(kernelArray) }
          : undefined;
        const qp = qsParamsOf(
          params,
          tis,
          gridFromArray(diArray.shape, toFloat32(diArray), V, label('DI')),
          job.r,
          kernel,
        );
        const jobHalo = haloOf(
          checkParams(qp, { di: label('DI'), tis: job.tiShas.map((_s, k) => label(`TI ${k}`)) }),
          di.shape.length,
        );
        if (!halo) halo = jobHalo;
        else if (jobHalo.some((h, a) => h !== halo![a])) {
          throw new BadRequestException(
            `job ${job.jobId}'s kernel gives a halo of ${jobHalo.join('x')} but job ${jobs[0].jobId}'s gives ${halo.join('x')}; ` +
              'give -ks (or -ki) so that every job uses the same kernel',
          );
        }
      } catch (e) {
        if (e instanceof QsInputError) throw new BadRequestException(`job ${job.jobId}: ${e.message}`);
        throw e;
      }
    }
    const lead = tileShape!.length - grid.shape.length;
    for (let a = lead; a < tileShape!.length; a++) {
      if (grid.shape[a - lead] > 1 && halo![a] > tileShape![a]) {
        throw new BadRequestException(
          `the halo (${halo![a]} cells: half the kernel) is wider than a tile (${tileShape![a]} cells) along axis ${a}; ` +
            'use a smaller kernel (-ks) or larger tiles',
        );
      }
    }
    const runId = `r${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const record: RunRecord = {
      runId,
      namespace,
      batch,
      state: 'queued',
      createdAt: new Date().toISOString(),
      gridShape: grid.shape,
      jobIds: grid.ids,
      diIds,
      endpoints,
      webhook: dto.webhook,
      requires: dto.requires?.length ? [...new Set(dto.requires)].sort() : undefined,
      arrays: [...new Set(jobs.flatMap((j) => [j.diSha, ...j.tiShas]).concat(dto.ki ? [dto.ki] : []))],
      tileShape: tileShape!,
      vars: V,
      params,
    };
    await this.runs.create(record);
    // on disk too: if Redis loses the run (restarted without persistence), its status can still say so
    writeManifest(this.ctx.dataDir, record);
    const N = grid.ids.length;
    const chunkData = jobs.map((job): ChunkJobData => {
      const coords = coordsOf(job.r, grid.shape);
      return {
        runId,
        namespace,
        batch,
        jobId: job.jobId,
        position: job.r,
        jobCount: N,
        gridShape: grid.shape,
        coords,
        diId: diIds[job.r],
        diSha: job.diSha,
        tiShas: job.tiShas,
        tileShape: tileShape!,
        halo: halo!,
        vars: V,
        params,
        neighbours: neighbourOffsets(coords, grid.shape).map(({ offset, position }) => ({
          position,
          offset,
          jobId: grid.ids[position],
          diId: diIds[position],
          diSha: jobs[position].diSha,
        })),
      };
    });
    await this.runs.saveChunkData(runId, chunkData);
    await this.enqueue(record, chunkData, 0);
    return {
      runId,
      namespace,
      batch,
      jobIds: grid.ids,
      gridShape: grid.shape,
      tileShape: tileShape!,
      halo: halo!,
      seed: params.seed,
    };
  }

  /** One BullMQ flow: a parent job per run (or per retry of an ended run) and a child per chunk. */
  private async enqueue(record: RunRecord, chunks: ChunkJobData[], retry: number): Promise<void> {
    const queueName = chunkQueueFor(record.requires);
    await this.ctx.redis.sadd(CHUNK_QUEUES_KEY, queueName);
    // BullMQ's job records go with the run's own records (the retention), not before
    const keep = { age: this.ctx.config.DQS_RETENTION_SECONDS };
    await this.flow.add({
      name: 'run',
      queueName: RUNS_QUEUE,
      data: { runId: record.runId },
      opts: { jobId: runJobId(record.runId, retry), removeOnComplete: keep, removeOnFail: keep },
      children: chunks.map((data) => ({
        name: 'chunk',
        queueName,
        data,
        opts: {
          jobId: chunkJobId(record.runId, data.jobId, retry),
          failParentOnFailure: true,
          attempts: 2,
          backoff: { type: 'fixed', delay: 1000 },
          removeOnComplete: keep,
          removeOnFail: keep,
        },
      })),
    });
  }

  /** The job ids of a range that belong to a run (a 400 naming the others). */
  private jobsOf(run: RunRecord, range: string | undefined): string[] {
    if (range === undefined) return run.jobIds;
    let ids: number[];
    try {
      ids = parseJobRanges(range);
    } catch (e) {
      throw new BadRequestException(`jobs: ${(e as Error).message}`);
    }
    const wanted = ids.map(String);
    const unknown = wanted.filter((id) => !run.jobIds.includes(id));
    if (unknown.length)
      throw new BadRequestException(
        `jobs: run ${run.runId} has no job ${formatJobRanges(unknown.map(Number))} (its jobs: ${formatJobRanges(run.jobIds.map(Number))})`,
      );
    return wanted;
  }

  /**
   * Retry: on an active run, chunks killed one by one go on from their streams; on a failed or cancelled run,
   * the chunks not written yet (or those of the range) are enqueued again and the run goes on from where each
   * stopped, to the same result. A chunk needs every neighbour written or retried with it.
   */
  async retry(
    runId: string,
    range?: string,
  ): Promise<{ runId: string; state: string; retried: string[]; skipped: string[] }> {
    const run = await this.runs.get(runId);
    if (!run) throw new NotFoundException(`no run ${runId}`);
    if (run.state === 'completed')
      throw new ConflictException(`run ${runId} has completed: every chunk is written, nothing to retry`);
    const named = this.jobsOf(run, range);
    const states = await this.runs.chunks(runId);
    const ended = run.state === 'failed' || run.state === 'cancelled';
    if (!ended) {
      const killed = new Set(await this.runs.killedChunks(runId));
      const retried = named.filter((j) => killed.has(j));
      if (retried.length === 0)
        throw new ConflictException(
          `run ${runId} is ${run.state} and none of ${range ? `jobs ${range}` : 'its chunks'} was killed` +
            (killed.size ? ` (killed: ${formatJobRanges([...killed].map(Number))})` : '') +
            '; dqs retry resumes killed chunks of a running run, and unfinished chunks of a failed or cancelled one',
        );
      await this.runs.unkillChunks(runId, retried);
      const queue = this.ctx.chunkQueue(chunkQueueFor(run.requires));
      for (const jobId of retried) {
        await this.runs.setChunk(runId, jobId, { state: 'waiting', done: states[jobId]?.done });
        await this.runs.log(runId, jobId, 'retried: back to the queue');
        const job = await latestChunkJob((id) => queue.getJob(id), run, jobId);
        if (job && (await job.getState()) === 'delayed') await job.promote().catch(() => undefined);
      }
      return { runId, state: run.state, retried, skipped: named.filter((j) => !killed.has(j)) };
    }
    const finished = (j: string) => isSimulated(states[j]);
    const retried = named.filter((j) => !finished(j));
    if (retried.length === 0)
      throw new ConflictException(
        `every chunk of ${range ? `jobs ${range}` : `run ${runId}`} is already written; nothing to retry`,
      );
    const data: ChunkJobData[] = [];
    for (const jobId of retried) {
      const d = await this.runs.chunkData(runId, jobId);
      if (!d)
        throw new ConflictException(
          `run ${runId} was submitted by an older dqs that did not keep its chunks' data; submit it again`,
        );
      data.push(d);
    }
    const retrying = new Set(retried);
    const missing = new Set<string>();
    for (const d of data)
      for (const nb of d.neighbours)
        if (!finished(nb.jobId) && !retrying.has(nb.jobId)) missing.add(nb.jobId);
    if (missing.size) {
      const all = formatJobRanges([...retried, ...missing].map(Number));
      throw new BadRequestException(
        `jobs ${formatJobRanges(retried.map(Number))} need their neighbours ${formatJobRanges([...missing].map(Number))}, ` +
          `which are not written: retry them together (--jobs ${all}), or retry every unfinished chunk (no --jobs)`,
      );
    }
    const k = (run.retries ?? 0) + 1;
    await this.runs.reopen(runId, k, retried);
    for (const jobId of retried) await this.runs.log(runId, jobId, `retry ${k}: enqueued again`);
    await this.enqueue(run, data, k);
    this.logger.log(`run ${runId}: retry ${k} of jobs ${formatJobRanges(retried.map(Number))}`);
    return { runId, state: 'queued', retried, skipped: named.filter((j) => !retrying.has(j)) };
  }

  async status(runId: string) {
    const s = await this.runs.status(runId);
    if (!s) return this.lostRun(runId);
    const { run, progress, chunks } = s;
    let waitingFor: string | undefined;
    if (run.requires?.length && (run.state === 'queued' || run.state === 'running')) {
      const live = await this.ctx.workers.list();
      if (!live.some((w) => run.requires!.every((t) => w.capabilities.includes(t)))) {
        waitingFor =
          `no live worker has the capabilities ${run.requires.join(', ')}: start one with DQS_CAPABILITIES=${run.requires.join(',')} ` +
          `(live workers: ${live.map((w) => `${w.name} [${w.capabilities.join(',') || 'none'}]`).join(', ') || 'none'})`;
      }
    }
    const killed = await this.runs.killedChunks(runId);
    if (killed.length && !waitingFor && (run.state === 'queued' || run.state === 'running')) {
      const jobs = formatJobRanges(killed.map(Number));
      waitingFor = `jobs ${jobs} were killed and are parked: dqs retry ${runId} --jobs ${jobs} resumes them (dqs kill ${runId} ends the run)`;
    }
    return {
      runId,
      namespace: run.namespace,
      batch: run.batch,
      state: run.state,
      waitingFor,
      killed: killed.length ? killed : undefined,
      retries: run.retries,
      requires: run.requires,
      progress: run.state === 'completed' ? 100 : Math.min(progress, 99.99),
      createdAt: run.createdAt,
      finishedAt: run.finishedAt,
      error: run.error,
      gridShape: run.gridShape,
      tileShape: run.tileShape,
      vars: run.vars,
      params: run.params,
      chunks,
    };
  }

  /**
   * A run with no record in Redis: unknown or forgotten after the retention (404), or lost while unfinished
   * (Redis restarted without persistence, or flushed): that one failed, and its archive manifest says so from then
   * on (a failed run's manifest is reported as it is).
   */
  private lostRun(runId: string) {
    const archived = listArchive(this.ctx.dataDir, { runId })[0]?.manifest;
    if (!archived || archived.state === 'completed' || archived.state === 'cancelled')
      throw new NotFoundException(`no run ${runId}`);
    const error =
      archived.state === 'failed'
        ? (archived.error ?? 'failed')
        : `the run's record is gone from Redis (restarted without persistence, or flushed?) while it was ${archived.state}; ` +
          'its chunks were dropped: submit it again';
    const failed = {
      ...archived,
      state: 'failed' as const,
      error,
      finishedAt: archived.finishedAt ?? new Date().toISOString(),
    };
    if (archived.state === 'failed') return this.archivedStatus(failed);
    writeManifest(this.ctx.dataDir, failed);
    this.logger.warn(`run ${runId}: ${error}`);
    return this.archivedStatus(failed);
  }

  private archivedStatus(m: ArchiveManifest) {
    return {
      runId: m.runId,
      namespace: m.namespace,
      batch: m.batch,
      state: m.state,
      progress: 0,
      createdAt: m.createdAt,
      finishedAt: m.finishedAt,
      error: m.error,
      gridShape: m.gridShape,
      tileShape: m.tileShape,
      vars: m.vars,
      params: m.params,
      chunks: m.jobIds.map((jobId, position) => ({ jobId, position, state: 'failed', progress: 0 })),
    };
  }

  /** Recent runs, newest first, optionally of one namespace and batch. */
  async list(filter: { namespace?: string; batch?: string } = {}) {
    const ids = await this.runs.list(filter.namespace || filter.batch ? 2000 : 200);
    const out = [];
    for (const id of ids) {
      const s = await this.runs.status(id);
      if (!s) continue;
      if (filter.namespace && s.run.namespace !== filter.namespace) continue;
      if (filter.batch && s.run.batch !== filter.batch) continue;
      if (out.length < 200)
        out.push({
          runId: id,
          namespace: s.run.namespace,
          batch: s.run.batch,
          state: s.run.state,
          progress: s.run.state === 'completed' ? 100 : s.progress,
          createdAt: s.run.createdAt,
          jobs: s.run.jobIds.length,
        });
    }
    return out;
  }

  async pause(runId: string, pause: boolean): Promise<{ runId: string; state: string }> {
    const run = await this.runs.get(runId);
    if (!run) throw new NotFoundException(`no run ${runId}`);
    if (pause && run.state !== 'queued' && run.state !== 'running') {
      throw new ConflictException(`run ${runId} is ${run.state}; only a queued or running run can be paused`);
    }
    if (!pause && run.state !== 'paused')
      throw new ConflictException(`run ${runId} is ${run.state}, not paused`);
    if (pause) await this.runs.pause(runId);
    else await this.runs.resume(runId);
    await this.ctx.redis.publish(PAUSE_CHANNEL, `${pause ? 'pause' : 'resume'} ${runId}`);
    return { runId, state: pause ? 'paused' : 'running' };
  }

  /** Kills a whole run, or (with a range) only some of its chunks, which stay parked until dqs retry. */
  async kill(runId: string, range?: string): Promise<{ runId: string; state: string; killed?: string[] }> {
    const run = await this.runs.get(runId);
    if (!run) throw new NotFoundException(`no run ${runId}`);
    if (run.state === 'completed' || run.state === 'failed' || run.state === 'cancelled') {
      throw new ConflictException(
        `run ${runId} has already ${run.state === 'completed' ? 'completed' : run.state === 'failed' ? 'failed' : 'been cancelled'}`,
      );
    }
    const queue = this.ctx.chunkQueue(chunkQueueFor(run.requires));
    const states = await this.runs.chunks(runId);
    if (range !== undefined) {
      const named = this.jobsOf(run, range);
      const killed = named.filter((j) => !isSimulated(states[j]));
      if (killed.length === 0)
        throw new ConflictException(`jobs ${range} of run ${runId} have already been simulated`);
      await this.runs.killChunks(runId, killed);
      for (const jobId of killed) {
        await this.runs.setChunk(runId, jobId, { state: 'cancelled', done: states[jobId]?.done });
        await this.runs.log(runId, jobId, 'killed by request');
      }
      await this.ctx.redis.publish(CANCEL_CHANNEL, `${runId} ${killed.join(',')}`);
      return { runId, state: run.state, killed };
    }
    if (run.jobIds.every((j) => isSimulated(states[j])))
      throw new ConflictException(
        `every chunk of run ${runId} has been simulated; its outputs are being written, there is nothing left to stop`,
      );
    await this.runs.markCancelled(runId);
    await this.runs.setState(runId, 'cancelled');
    // chunks already written stay in the archive: its manifest says the run was cancelled
    if (existsSync(runOutputDir(this.ctx.dataDir, run))) {
      const ended = await this.runs.get(runId);
      if (ended) writeManifest(this.ctx.dataDir, ended);
    }
    if (run.webhook) {
      const summary = runSummary(run, 'cancelled', await this.runs.chunks(runId));
      void sendWebhook(run.webhook, summary).then(
        (p) => p && this.logger.warn(`webhook of run ${runId}: ${p}`),
      );
    }
    await this.ctx.redis.publish(CANCEL_CHANNEL, runId);
    // chunks not started yet (or parked) are removed; running ones stop at their next cell
    for (const jobId of run.jobIds) {
      const job = await latestChunkJob((id) => queue.getJob(id), run, jobId);
      if (!job) continue;
      const state = await job.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
        await job.remove().catch(() => undefined);
        await this.runs.setChunk(runId, jobId, { state: 'cancelled' });
      }
    }
    return { runId, state: 'cancelled' };
  }
}
