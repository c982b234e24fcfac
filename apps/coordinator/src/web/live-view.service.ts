/**
 * What the web view needs beyond the REST API: server-sent events when runs change (fed by Redis pub/sub,
 * throttled), small PNG previews of chunks (live from their streams while they run), of training images, and
 * the statistics of a finished run against its training image. Previews are downsampled: a 4000x4000 output is
 * never sent whole to a browser.
 */
import { Injectable, NotFoundException, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { existsSync, readFileSync } from 'node:fs';
import { parseNpy, renderPreview, toFloat32 } from '@dqs/grids';
import {
  ChunkJobData,
  RUN_EVENTS_CHANNEL,
  ServiceConfig,
  chunkQueueFor,
  latestChunkJob,
  redisOptionsFromUrl,
} from '@dqs/protocol';
import { chunkOutputFiles, mosaicFiles } from '@dqs/store';
import { gridFromArray } from '@dqs/qs';
import { collectChunk } from '@dqs/halo';
import { compareWithTi, ComparisonReport } from '@dqs/stats';
import { CoordinatorContext } from '../coordinator-context';

type Listener = (runId: string) => void;

/** Nearest-neighbour downsampling of a [rows, cols] slice to at most `max` cells on its longer side. */
export function downsample(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  max: number,
): { data: Float32Array; rows: number; cols: number } {
  const f = Math.max(1, Math.ceil(Math.max(rows, cols) / max));
  const r2 = Math.ceil(rows / f);
  const c2 = Math.ceil(cols / f);
  const data = new Float32Array(r2 * c2);
  for (let r = 0; r < r2; r++) for (let c = 0; c < c2; c++) data[r * c2 + c] = values[r * f * cols + c * f];
  return { data, rows: r2, cols: c2 };
}

@Injectable()
export class LiveViewService implements OnModuleInit, OnApplicationShutdown {
  private subscriber!: Redis;
  private readonly listeners = new Set<Listener>();
  private readonly ranges = new Map<string, [number, number]>();
  private readonly stats = new Map<string, ComparisonReport>();

  constructor(
    private readonly ctx: CoordinatorContext,
    private readonly config: ServiceConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.subscriber = new Redis(redisOptionsFromUrl(this.config.REDIS_URL));
    this.subscriber.on('message', (_c: string, runId: string) => {
      for (const l of this.listeners) l(runId);
    });
    await this.subscriber.subscribe(RUN_EVENTS_CHANNEL);
  }

  onApplicationShutdown(): void {
    this.subscriber?.disconnect();
  }

  /** Calls fn when any run changes; returns the unsubscribe function. */
  listen(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async job(runId: string, jobId: string): Promise<ChunkJobData> {
    const record = await this.ctx.runs.get(runId);
    if (!record) throw new NotFoundException(`no run ${runId}`);
    const kept = await this.ctx.runs.chunkData(runId, jobId);
    if (kept) return kept;
    // runs submitted before chunk data was kept: the chunk's BullMQ job
    const queue = this.ctx.chunkQueue(chunkQueueFor(record.requires));
    const job = await latestChunkJob((id) => queue.getJob(id), record, jobId);
    if (!job) throw new NotFoundException(`no chunk ${jobId} in run ${runId}`);
    return job.data;
  }

  /** The value range of a run's first training image, so that every tile uses the same colours. */
  private range(data: ChunkJobData): [number, number] {
    const cached = this.ranges.get(data.runId);
    if (cached) return cached;
    const ti = toFloat32(this.ctx.store.read(data.tiShas[0]));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < ti.length; i += data.vars) {
      if (ti[i] < lo) lo = ti[i];
      if (ti[i] > hi) hi = ti[i];
    }
    const r: [number, number] = [lo, hi];
    this.ranges.set(data.runId, r);
    return r;
  }

  private png(
    values: Float32Array,
    shape: number[],
    vars: number,
    max: number,
    categorical: boolean,
    range?: [number, number],
  ): Uint8Array {
    const cols = shape[shape.length - 1];
    const rows = shape.length >= 2 ? shape[shape.length - 2] : 1;
    const depth = shape.length === 3 ? shape[0] : 1;
    const z = Math.floor(depth / 2);
    const slice = new Float32Array(rows * cols);
    for (let i = 0; i < rows * cols; i++) slice[i] = values[(z * rows * cols + i) * vars];
    const d = downsample(slice, rows, cols, max);
    const scale = Math.max(1, Math.floor(max / Math.max(d.rows, d.cols)));
    return renderPreview(d.data, d.rows, d.cols, {
      categorical,
      range: categorical ? undefined : range,
      scale,
    });
  }

  /** A chunk as it is now: its written output, or its DI with the cells simulated so far. */
  async chunkPreview(runId: string, jobId: string, max: number): Promise<Uint8Array> {
    const data = await this.job(runId, jobId);
    const categorical = data.params.dt[0] !== 0;
    const files = chunkOutputFiles(this.ctx.dataDir, data, jobId);
    if (existsSync(files.sim)) {
      const a = parseNpy(readFileSync(files.sim), files.sim);
      return this.png(toFloat32(a), data.tileShape, data.vars, max, categorical, this.range(data));
    }
    const live = await collectChunk(data, this.ctx.redis, (sha) => this.ctx.store.read(sha), {
      partial: true,
    });
    return this.png(live.sim.data, data.tileShape, data.vars, max, categorical, this.range(data));
  }

  async tiPreview(runId: string, jobId: string, max: number): Promise<Uint8Array> {
    const data = await this.job(runId, jobId);
    const a = this.ctx.store.read(data.tiShas[0]);
    const ti = gridFromArray(a.shape, toFloat32(a), data.vars, 'TI');
    return this.png(ti.data, ti.shape, data.vars, max, data.params.dt[0] !== 0, this.range(data));
  }

  async mosaicPreview(runId: string, max: number): Promise<Uint8Array> {
    const record = await this.ctx.runs.get(runId);
    if (!record) throw new NotFoundException(`no run ${runId}`);
    const files = mosaicFiles(this.ctx.dataDir, record);
    if (!existsSync(files.sim)) throw new NotFoundException(`the mosaic of run ${runId} is not written yet`);
    const a = parseNpy(readFileSync(files.sim), files.sim);
    const data = await this.job(runId, record.jobIds[0]);
    const shape = record.vars > 1 ? a.shape.slice(0, -1) : a.shape;
    return this.png(toFloat32(a), shape, record.vars, max, record.params.dt[0] !== 0, this.range(data));
  }

  /** Statistics of a finished 2D run against the first job's TI (on a window of at most 512x512 cells). */
  async runStats(runId: string): Promise<ComparisonReport & { window: number[] }> {
    const record = await this.ctx.runs.get(runId);
    if (!record) throw new NotFoundException(`no run ${runId}`);
    const files = mosaicFiles(this.ctx.dataDir, record);
    if (!existsSync(files.sim))
      throw new NotFoundException(`run ${runId} has no mosaic yet; statistics come once it is complete`);
    if (record.tileShape.length !== 2) throw new NotFoundException('statistics are drawn for 2D runs');
    const cached = this.stats.get(runId);
    const window = [
      Math.min(512, record.tileShape[0] * record.gridShape[0]),
      Math.min(512, record.tileShape[1] * (record.gridShape[1] ?? 1)),
    ];
    if (cached) return { ...cached, window };
    const data = await this.job(runId, record.jobIds[0]);
    const tiArray = this.ctx.store.read(data.tiShas[0]);
    const ti = gridFromArray(tiArray.shape, toFloat32(tiArray), record.vars, 'TI');
    const m = parseNpy(readFileSync(files.sim), files.sim);
    const idx = parseNpy(readFileSync(files.index), files.index);
    const cols = m.shape[1];
    const pick = (src: ArrayLike<number>, vars: number) => {
      const out = new Float64Array(window[0] * window[1]);
      for (let r = 0; r < window[0]; r++)
        for (let c = 0; c < window[1]; c++) out[r * window[1] + c] = src[(r * cols + c) * vars];
      return out;
    };
    const tiFirst = new Float32Array(ti.shape[0] * ti.shape[1]);
    for (let i = 0; i < tiFirst.length; i++) tiFirst[i] = ti.data[i * record.vars];
    const report = compareWithTi(
      { rows: ti.shape[0], cols: ti.shape[1], data: tiFirst },
      { rows: window[0], cols: window[1], data: pick(toFloat32(m), record.vars) },
      {
        categorical: record.params.dt[0] !== 0,
        index: Uint32Array.from(pick(idx.data as Uint32Array, 1)),
        maxLag: 30,
      },
    );
    this.stats.set(runId, report);
    return { ...report, window };
  }
}
