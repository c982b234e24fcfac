/** The REST API under /v1: arrays, prep, runs, status, kill, downloads. */
import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { BadRequestException, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { GridFileError } from '@dqs/grids';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  DateBoundError,
  DmDto,
  JobRangeError,
  PrepDto,
  parseDateFilter,
  parseJobRanges,
  scopeFilterProblem,
} from '@dqs/protocol';
import { ArchiveFilter, ArrayStore, archiveRoot, listArchive } from '@dqs/store';
import { TokenGuard } from './auth.guard';
import { CoordinatorContext } from './coordinator-context';
import { Download, DownloadsService } from './downloads.service';
import { RunsService } from './runs.service';

function send(res: Response, d: Download): void {
  res.setHeader('Content-Type', d.contentType);
  res.setHeader('Content-Disposition', `attachment; filename="${d.filename}"`);
  res.send(Buffer.from(d.body.buffer, d.body.byteOffset, d.body.byteLength));
}

/** An archive filter from query parameters (the same fields as dqs fetch's flags). */
function archiveFilterOf(q: Record<string, string>): ArchiveFilter {
  for (const what of ['namespace', 'batch'] as const) {
    const problem = scopeFilterProblem(what, q[what]);
    if (problem) throw new BadRequestException(problem);
  }
  return {
    namespace: q.namespace || undefined,
    batch: q.batch || undefined,
    runId: q.run || undefined,
    jobs: q.jobs ? new Set(parseJobRanges(q.jobs).map(String)) : undefined,
    index: truthy(q.index),
    ...parseDateFilter({ since: q.since, until: q.until, date: q.date }),
  };
}

const truthy = (v: string | undefined) =>
  v !== undefined && ['1', 'true', 'yes', ''].includes(v.toLowerCase());

@ApiTags('dqs')
@Controller('v1')
@UseGuards(TokenGuard)
export class ApiController {
  constructor(
    private readonly ctx: CoordinatorContext,
    private readonly runs: RunsService,
    private readonly downloads: DownloadsService,
  ) {}

  @Post('arrays')
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload an array (NPY bytes); stored once, addressed by its sha256' })
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  upload(@Req() req: Request) {
    const body = req.body as unknown;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      throw new BadRequestException(
        'send the array as NPY bytes with Content-Type: application/octet-stream',
      );
    }
    try {
      return this.ctx.store.putNpy(body, 'upload');
    } catch (e) {
      if (e instanceof GridFileError)
        throw new BadRequestException(`the upload is not a readable NPY array: ${e.problem}`);
      throw e;
    }
  }

  @Get('arrays/:sha')
  @ApiOperation({ summary: 'Whether an array is stored, and its shape' })
  array(@Param('sha') sha: string) {
    if (!ArrayStore.isSha(sha))
      throw new BadRequestException('an array is addressed by its sha256 (64 hex characters)');
    if (!this.ctx.store.has(sha)) throw new NotFoundException(`no array ${sha}`);
    return this.ctx.store.info(sha);
  }

  @Post('prep')
  @HttpCode(201)
  @ApiOperation({
    summary: 'qs_prep: register a job id with its TIs and DI (input_ti_<k>_<id>, input_di_<id>)',
  })
  prep(@Body() dto: PrepDto) {
    return this.runs.prep(dto);
  }

  @Post('runs')
  @HttpCode(201)
  @ApiOperation({ summary: 'qs_dm: launch a distributed run over a job grid; returns its run id' })
  submit(@Body() dto: DmDto) {
    return this.runs.submit(dto);
  }

  @Get('runs')
  @ApiOperation({ summary: 'Recent runs (newest first), with their namespace and batch' })
  @ApiQuery({ name: 'namespace', required: false })
  @ApiQuery({ name: 'batch', required: false })
  list(@Query('namespace') namespace?: string, @Query('batch') batch?: string) {
    return this.runs.list({ namespace, batch });
  }

  @Get('archive')
  @ApiOperation({
    summary:
      'Archived outputs (archive/<namespace>/<batch>/<runId>/) matching a filter; names may use * as a wildcard',
  })
  @ApiQuery({ name: 'namespace', required: false })
  @ApiQuery({ name: 'batch', required: false })
  @ApiQuery({ name: 'run', required: false })
  @ApiQuery({ name: 'jobs', required: false, description: 'job range, e.g. 1-6,15,20,25-30' })
  @ApiQuery({ name: 'since', required: false, description: 'YYYY-MM-DD, an ISO time, or an age (3d, 12h)' })
  @ApiQuery({ name: 'until', required: false })
  @ApiQuery({ name: 'date', required: false, description: 'one day, YYYY-MM-DD' })
  @ApiQuery({ name: 'index', required: false, description: 'also the index images' })
  archive(@Query() q: Record<string, string>) {
    try {
      return listArchive(this.ctx.dataDir, archiveFilterOf(q));
    } catch (e) {
      if (e instanceof JobRangeError || e instanceof DateBoundError) throw new BadRequestException(e.message);
      throw e;
    }
  }

  @Get('archive/:namespace/:batch/:runId/:file')
  @ApiOperation({ summary: 'One archived file (NPY or manifest.json), as listed by GET /v1/archive' })
  archiveFile(
    @Param('namespace') namespace: string,
    @Param('batch') batch: string,
    @Param('runId') runId: string,
    @Param('file') file: string,
    @Res() res: Response,
  ) {
    const parts = [namespace, batch, runId, file];
    if (parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p) || p.startsWith('.')))
      throw new BadRequestException('not an archive path: <namespace>/<batch>/<runId>/<file>');
    const path = join(archiveRoot(this.ctx.dataDir), ...parts);
    if (!existsSync(path)) throw new NotFoundException(`no archived file ${parts.join('/')}`);
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.setHeader('Content-Disposition', `attachment; filename="${file}"`);
    res.sendFile(path);
  }

  @Get('runs/:runId')
  @ApiOperation({
    summary: 'Status: state, progress 0-100 (100 once every output is durable), per-chunk detail',
  })
  status(@Param('runId') runId: string) {
    return this.runs.status(runId);
  }

  @Post('runs/:runId/kill')
  @ApiOperation({
    summary: 'Stop every chunk of a run; with jobs=RANGE only those chunks, which stay parked until retried',
  })
  @ApiQuery({ name: 'jobs', required: false, description: 'job range, e.g. 1-6,15,20,25-30' })
  kill(@Param('runId') runId: string, @Query('jobs') jobs?: string) {
    return this.runs.kill(runId, jobs);
  }

  @Post('runs/:runId/retry')
  @ApiOperation({
    summary:
      'Retry: killed chunks of a running run go on; a failed or cancelled run enqueues its unfinished chunks (or those of jobs=RANGE) again, to the same result',
  })
  @ApiQuery({ name: 'jobs', required: false, description: 'job range, e.g. 1-6,15,20,25-30' })
  retry(@Param('runId') runId: string, @Query('jobs') jobs?: string) {
    return this.runs.retry(runId, jobs);
  }

  @Post('runs/:runId/pause')
  @ApiOperation({
    summary: 'Pause a run: its chunks stop at a cell boundary and free their CPU; the result does not change',
  })
  pause(@Param('runId') runId: string) {
    return this.runs.pause(runId, true);
  }

  @Post('runs/:runId/resume')
  @ApiOperation({ summary: 'Resume a paused run' })
  resume(@Param('runId') runId: string) {
    return this.runs.pause(runId, false);
  }

  @Get('workers')
  @ApiOperation({
    summary: 'Live workers: slots, threads per chunk, capabilities, paused, the chunks they hold',
  })
  workers() {
    return this.ctx.workers.list();
  }

  @Post('workers/:name/pause')
  @ApiOperation({
    summary:
      'Pause a worker: it takes no new chunk, and its chunks stop at a cell boundary and go back to the queue, so that other workers take them (same result)',
  })
  async pauseWorker(@Param('name') name: string) {
    return this.setWorkerPaused(name, true);
  }

  @Post('workers/:name/resume')
  @ApiOperation({ summary: 'Resume a paused worker' })
  async resumeWorker(@Param('name') name: string) {
    return this.setWorkerPaused(name, false);
  }

  private async setWorkerPaused(name: string, paused: boolean) {
    const known = await this.ctx.workers.list();
    if (!known.some((w) => w.name === name)) {
      throw new NotFoundException(
        `no live worker named ${name}; live workers: ${known.map((w) => w.name).join(', ') || 'none'}`,
      );
    }
    await this.ctx.workers.setPaused(name, paused);
    return { name, paused };
  }

  @Get('runs/:runId/mosaic')
  @ApiQuery({ name: 'format', required: false, enum: ['npy', 'tiff', 'png', 'json'] })
  @ApiQuery({ name: 'part', required: false, enum: ['sim', 'index'] })
  @ApiQuery({ name: 'wait', required: false })
  @ApiOperation({ summary: 'The assembled mosaic of a run' })
  async mosaic(@Param('runId') runId: string, @Query() q: Record<string, string>, @Res() res: Response) {
    send(
      res,
      await this.downloads.mosaic(runId, {
        format: q.format,
        part: q.part,
        wait: truthy(q.wait),
        timeout: Number(q.timeout ?? 3600),
      }),
    );
  }

  @Get('runs/:runId/chunks/:jobId')
  @ApiQuery({ name: 'format', required: false, enum: ['npy', 'tiff', 'png', 'json'] })
  @ApiOperation({ summary: "A chunk's cropped output (wait=true waits until it is written)" })
  async runChunk(
    @Param('runId') runId: string,
    @Param('jobId') jobId: string,
    @Query() q: Record<string, string>,
    @Res() res: Response,
  ) {
    send(
      res,
      await this.downloads.chunk(runId, jobId, {
        format: q.format,
        part: q.part,
        wait: truthy(q.wait),
        timeout: Number(q.timeout ?? 3600),
      }),
    );
  }

  @Get('runs/:runId/chunks/:jobId/log')
  @ApiOperation({ summary: "A chunk's log: start, worker, blocked, back to the queue, completion or error" })
  async chunkLog(@Param('runId') runId: string, @Param('jobId') jobId: string) {
    const run = await this.ctx.runs.get(runId);
    if (!run) throw new NotFoundException(`no run ${runId}`);
    if (!run.jobIds.includes(jobId)) throw new NotFoundException(`run ${runId} has no job ${jobId}`);
    return { runId, jobId, lines: await this.ctx.runs.readLog(runId, jobId) };
  }

  @Get('chunks/:jobId')
  @ApiOperation({ summary: "waitAndDownload: a job id's chunk from the latest run that has it" })
  async chunk(@Param('jobId') jobId: string, @Query() q: Record<string, string>, @Res() res: Response) {
    send(
      res,
      await this.downloads.chunk(q.run, jobId, {
        namespace: q.namespace,
        format: q.format,
        part: q.part,
        wait: truthy(q.wait),
        timeout: Number(q.timeout ?? 3600),
      }),
    );
  }
}

@Controller()
export class HealthController {
  constructor(private readonly ctx: CoordinatorContext) {}

  @Get('health')
  async health() {
    try {
      return { status: 'ok', redis: await this.ctx.redis.ping(), dataDir: this.ctx.dataDir };
    } catch (e) {
      throw new ServiceUnavailableException({ status: 'down', redis: (e as Error).message });
    }
  }
}
