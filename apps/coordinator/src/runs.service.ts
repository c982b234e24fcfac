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
import { ArrayStore, RunRepository, pathInside, runSummary, sendWebhook } from '@dqs/store';
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

  prep(dto: PrepDto): { id: string; names: string[] } {
    const id = String(dto.id);
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
    for (const old of this.store.listNames(`input_ti_`)) {
      const m = /^input_ti_(\d+)_(\d+)$/.exec(old.name);
      if (m && m[2] === id && Number(m[1]) >= dto.ti.length) this.store.removeName(old.name);
    }
    const names: string[] = [];
    dto.ti.forEach((sha, k) => {
      const info = this.store.info(sha);
      names.push(this.store.setName(inputTiName(k, id), { sha256: sha, shape: info.shape, dt: dto.dt }).name);
    });
    const di = this.store.info(dto.di);
    names.push(this.store.setName(inputDiName(id), { sha256: dto.di, shape: di.shape, dt: dto.dt }).name);
    return { id, names };
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
      const di = this.store.getName(diIds[r]);
      if (!di) {
        throw new BadRequestException(
          `job ${jobId}: no DI named ${diIds[r]}; prepare it first (POST /v1/prep, or dqs prep --id ${jobId} -ti ... -di ... -dt ...)`,
        );
      }
      const tis: string[] = [];
      for (let k = 0; ; k++) {
        const ti = this.store.getName(inputTiName(k, jobId));
        if (!ti) break;
        tis.push(ti.sha256);
      }
      if (tis.length === 0)
        throw new BadRequestException(
          `job ${jobId}: no training image input_ti_0_${jobId}; prepare the job first (POST /v1/prep)`,
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
    const queueName = chunkQueueFor(record.requires);
    await this.ctx.redis.sadd(CHUNK_QUEUES_KEY, queueName);
    const N = grid.ids.length;
    const children = jobs.map((job) => {
      const coords = coordsOf(job.r, grid.shape);
      const data: ChunkJobData = {
        runId,
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
      return {
        name: 'chunk',
        queueName,
        data,
        opts: {
          jobId: `${runId}-${job.jobId}`,
          failParentOnFailure: true,
          attempts: 2,
          backoff: { type: 'fixed', delay: 1000 },
          removeOnComplete: { age: 7 * 24 * 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      };
    });
    await this.flow.add({
      name: 'run',
      queueName: RUNS_QUEUE,
      data: { runId },
      opts: { jobId: runId, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
      children,
    });
    return {
      runId,
      jobIds: grid.ids,
      gridShape: grid.shape,
      tileShape: tileShape!,
      halo: halo!,
      seed: params.seed,
    };
  }

  async status(runId: string) {
    const s = await this.runs.status(runId);
    if (!s) throw new NotFoundException(`no run ${runId}`);
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
    return {
      runId,
      state: run.state,
      waitingFor,
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

  async list() {
    const ids = await this.runs.list(200);
    const out = [];
    for (const id of ids) {
      const s = await this.runs.status(id);
      if (s)
        out.push({
          runId: id,
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

  async kill(runId: string): Promise<{ runId: string; state: string }> {
    const run = await this.runs.get(runId);
    if (!run) throw new NotFoundException(`no run ${runId}`);
    if (run.state === 'completed' || run.state === 'failed' || run.state === 'cancelled') {
      throw new ConflictException(
        `run ${runId} has already ${run.state === 'completed' ? 'completed' : run.state === 'failed' ? 'failed' : 'been cancelled'}`,
      );
    }
    await this.runs.markCancelled(runId);
    await this.runs.setState(runId, 'cancelled');
    if (run.webhook) {
      const summary = runSummary(run, 'cancelled', await this.runs.chunks(runId));
      void sendWebhook(run.webhook, summary).then(
        (p) => p && this.logger.warn(`webhook of run ${runId}: ${p}`),
      );
    }
    await this.ctx.redis.publish(CANCEL_CHANNEL, runId);
    // chunks not started yet are removed; running ones stop at their next cell
    const queue = this.ctx.chunkQueue(chunkQueueFor(run.requires));
    for (const jobId of run.jobIds) {
      const job = await queue.getJob(`${runId}-${jobId}`);
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
