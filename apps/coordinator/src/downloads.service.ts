/** Serves durable outputs (written by the results service) in NPY, TIFF, PNG and JSON, waiting if asked. */
import {
  BadRequestException,
  ConflictException,
  Injectable,
  NotFoundException,
  RequestTimeoutException,
} from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { NdArray, parseNpy, renderPreview, serializeJsonGrid, serializeTiff, toFloat32 } from '@dqs/grids';
import { chunkOutputFiles, mosaicFiles } from '@dqs/store';
import { DEFAULT_NAMESPACE, scopeNameProblem } from '@dqs/protocol';
import { CoordinatorContext } from './coordinator-context';

export type Format = 'npy' | 'tiff' | 'png' | 'json';
export const FORMATS: Format[] = ['npy', 'tiff', 'png', 'json'];

export interface Download {
  body: Uint8Array;
  contentType: string;
  filename: string;
}

const CONTENT: Record<Format, string> = {
  npy: 'application/octet-stream',
  tiff: 'image/tiff',
  png: 'image/png',
  json: 'application/json',
};

@Injectable()
export class DownloadsService {
  constructor(private readonly ctx: CoordinatorContext) {}

  parseFormat(format: string | undefined): Format {
    const f = (format ?? 'npy').toLowerCase().replace('tif', 'tiff').replace('tifff', 'tiff') as Format;
    if (!FORMATS.includes(f))
      throw new BadRequestException(`format must be one of ${FORMATS.join(', ')} (got ${format})`);
    return f;
  }

  /** Waits (up to timeoutSeconds) until the file exists, failing early when the run ends without it. */
  private async waitFor(
    file: string,
    runId: string,
    what: string,
    wait: boolean,
    timeoutSeconds: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      if (existsSync(file)) return;
      const s = await this.ctx.runs.status(runId);
      if (!s) throw new NotFoundException(`no run ${runId}`);
      if (s.run.state === 'failed')
        throw new ConflictException(`run ${runId} failed, ${what} will not be written: ${s.run.error ?? ''}`);
      if (s.run.state === 'cancelled')
        throw new ConflictException(`run ${runId} was cancelled before ${what} was written`);
      if (!wait)
        throw new ConflictException(
          `${what} of run ${runId} is not written yet (run ${s.run.state}, ${s.progress.toFixed(1)}%); add ?wait=true to wait for it`,
        );
      if (Date.now() > deadline)
        throw new RequestTimeoutException(
          `${what} of run ${runId} is still not written after ${timeoutSeconds} s`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async chunk(
    runId: string | undefined,
    jobId: string,
    opts: { format?: string; part?: string; wait?: boolean; timeout?: number; namespace?: string },
  ): Promise<Download> {
    const format = this.parseFormat(opts.format);
    const namespace = opts.namespace || DEFAULT_NAMESPACE;
    const nsProblem = scopeNameProblem('namespace', namespace);
    if (nsProblem) throw new BadRequestException(nsProblem);
    if (!/^\d+$/.test(jobId))
      throw new BadRequestException(`job id must be a non-negative integer (got ${jobId})`);
    const deadline = Date.now() + (opts.timeout ?? 3600) * 1000;
    let run = runId;
    while (!run) {
      run = (await this.ctx.runs.latestRunOfJob(namespace, jobId)) ?? undefined;
      if (run) break;
      if (!opts.wait)
        throw new NotFoundException(`no run in namespace ${namespace} has produced job ${jobId} yet`);
      if (Date.now() > deadline) throw new RequestTimeoutException(`job ${jobId} was not produced in time`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const record = await this.ctx.runs.get(run);
    if (!record) throw new NotFoundException(`no run ${run}`);
    if (!record.jobIds.includes(jobId))
      throw new NotFoundException(`run ${run} has no job ${jobId} (its jobs: ${record.jobIds.join(', ')})`);
    const files = chunkOutputFiles(this.ctx.dataDir, record, jobId);
    const index = opts.part === 'index';
    if (opts.part && !['sim', 'index'].includes(opts.part))
      throw new BadRequestException(`part must be sim or index (got ${opts.part})`);
    const file = index ? files.index : files.sim;
    await this.waitFor(file, run, `chunk ${jobId}`, !!opts.wait, Math.max(0, (deadline - Date.now()) / 1000));
    return this.convert(
      file,
      format,
      `chunk_${jobId}${index ? '.index' : ''}`,
      record.vars,
      record.params.dt[0] !== 0 && !index,
    );
  }

  async mosaic(
    runId: string,
    opts: { format?: string; part?: string; wait?: boolean; timeout?: number },
  ): Promise<Download> {
    const format = this.parseFormat(opts.format);
    const record = await this.ctx.runs.get(runId);
    if (!record) throw new NotFoundException(`no run ${runId}`);
    const files = mosaicFiles(this.ctx.dataDir, record);
    const index = opts.part === 'index';
    const file = index ? files.index : files.sim;
    await this.waitFor(file, runId, 'the mosaic', !!opts.wait, opts.timeout ?? 3600);
    return this.convert(
      file,
      format,
      `mosaic_${runId}${index ? '.index' : ''}`,
      record.vars,
      record.params.dt[0] !== 0 && !index,
    );
  }

  private convert(file: string, format: Format, base: string, vars: number, categorical: boolean): Download {
    const bytes = readFileSync(file);
    const filename = `${base}.${format === 'tiff' ? 'tiff' : format}`;
    if (format === 'npy') return { body: bytes, contentType: CONTENT.npy, filename };
    const array: NdArray = parseNpy(bytes, file);
    if (format === 'json')
      return {
        body: new TextEncoder().encode(serializeJsonGrid(array)),
        contentType: CONTENT.json,
        filename,
      };
    if (format === 'tiff')
      return { body: serializeTiff(array, { samples: vars > 1 }), contentType: CONTENT.tiff, filename };
    // PNG: a colour-mapped preview of the first variable (middle slice of a 3D grid)
    const spatial = vars > 1 ? array.shape.slice(0, -1) : array.shape;
    const cols = spatial[spatial.length - 1];
    const rows = spatial.length >= 2 ? spatial[spatial.length - 2] : 1;
    const depth = spatial.length === 3 ? spatial[0] : 1;
    const src = toFloat32(array);
    const slice = new Float32Array(rows * cols);
    const z = Math.floor(depth / 2);
    for (let i = 0; i < rows * cols; i++) slice[i] = src[(z * rows * cols + i) * vars];
    const scale = Math.max(1, Math.floor(512 / Math.max(rows, cols)));
    return {
      body: renderPreview(slice, rows, cols, { categorical, scale }),
      contentType: CONTENT.png,
      filename,
    };
  }
}
