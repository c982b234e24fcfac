/** The web view at /, and the endpoints it lives on: server-sent events, previews, statistics. */
import { Controller, Get, Header, Param, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { RunsService } from '../runs.service';
import { LiveViewService } from './live-view.service';
import { WEB_PAGE } from './page';

const size = (q: string | undefined, fallback: number) => Math.max(16, Math.min(1024, Number(q) || fallback));

@ApiExcludeController()
@Controller()
export class WebController {
  constructor(
    private readonly live: LiveViewService,
    private readonly runs: RunsService,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return WEB_PAGE;
  }

  /** Opens a server-sent event stream that sends `build()` now and whenever `relevant(runId)` changes (at most 4 times a second). */
  private stream(
    req: Request,
    res: Response,
    relevant: (runId: string) => boolean,
    build: () => Promise<unknown>,
  ): void {
    res.setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Connection', 'keep-alive');
    res.flushHeaders();
    let pending = false;
    let last = 0;
    let closed = false;
    const send = async () => {
      pending = false;
      last = Date.now();
      try {
        const data = await build();
        if (!closed) res.write(`data: ${JSON.stringify(data)}\n\n`);
      } catch (e) {
        if (!closed)
          res.write(`event: problem\ndata: ${JSON.stringify({ message: (e as Error).message })}\n\n`);
      }
    };
    const schedule = () => {
      if (pending || closed) return;
      pending = true;
      setTimeout(() => void send(), Math.max(0, 250 - (Date.now() - last)));
    };
    const stop = this.live.listen((runId) => relevant(runId) && schedule());
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15000);
    // also every 5 s, in case a notification was lost
    const safety = setInterval(schedule, 5000);
    req.on('close', () => {
      closed = true;
      stop();
      clearInterval(keepAlive);
      clearInterval(safety);
    });
    void send();
  }

  @Get('v1/events')
  runsEvents(@Req() req: Request, @Res() res: Response): void {
    this.stream(
      req,
      res,
      () => true,
      () => this.runs.list(),
    );
  }

  @Get('v1/runs/:runId/events')
  runEvents(@Param('runId') runId: string, @Req() req: Request, @Res() res: Response): void {
    this.stream(
      req,
      res,
      (id) => id === runId,
      () => this.runs.status(runId),
    );
  }

  @Get('v1/runs/:runId/chunks/:jobId/preview.png')
  async chunkPreview(
    @Param('runId') runId: string,
    @Param('jobId') jobId: string,
    @Query('size') s: string,
    @Res() res: Response,
  ) {
    res.type('png').send(Buffer.from(await this.live.chunkPreview(runId, jobId, size(s, 128))));
  }

  @Get('v1/runs/:runId/tis/:jobId/preview.png')
  async tiPreview(
    @Param('runId') runId: string,
    @Param('jobId') jobId: string,
    @Query('size') s: string,
    @Res() res: Response,
  ) {
    res.type('png').send(Buffer.from(await this.live.tiPreview(runId, jobId, size(s, 200))));
  }

  @Get('v1/runs/:runId/mosaic/preview.png')
  async mosaicPreview(@Param('runId') runId: string, @Query('size') s: string, @Res() res: Response) {
    res.type('png').send(Buffer.from(await this.live.mosaicPreview(runId, size(s, 512))));
  }

  @Get('v1/runs/:runId/stats')
  stats(@Param('runId') runId: string) {
    return this.live.runStats(runId);
  }
}
