import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { BullBoardModule } from '@bull-board/nestjs';
import { ExpressAdapter } from '@bull-board/express';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import basicAuth from 'express-basic-auth';
import type { ConnectionOptions } from 'bullmq';
import { randomBytes } from 'node:crypto';
import {
  CHUNKS_QUEUE,
  QUEUE_PREFIX,
  RUNS_QUEUE,
  ServiceConfig,
  loadServiceConfig,
  redisOptionsFromUrl,
} from '@dqs/protocol';
import { ApiController, HealthController } from './api.controller';
import { CoordinatorContext } from './coordinator-context';
import { DownloadsService } from './downloads.service';
import { FLOW, RunsService } from './runs.service';
import { QueueMetrics } from './queue-metrics';
import { TokenGuard } from './auth.guard';
import { LiveViewService } from './web/live-view.service';
import { WebController } from './web/web.controller';

const config = loadServiceConfig();
/** The Bull Board password: DQS_BOARD_PASSWORD, else the API token, else one made for this start (logged). */
export const BOARD_PASSWORD =
  config.DQS_BOARD_PASSWORD ?? config.DQS_TOKEN ?? randomBytes(9).toString('base64url');
const connection = redisOptionsFromUrl(config.REDIS_URL) as ConnectionOptions;

@Module({
  imports: [
    BullModule.forRoot({ connection, prefix: QUEUE_PREFIX }),
    BullModule.registerQueue({ name: CHUNKS_QUEUE }, { name: RUNS_QUEUE }),
    BullModule.registerFlowProducer({ name: FLOW }),
    BullBoardModule.forRoot({
      route: '/queues',
      adapter: ExpressAdapter,
      middleware: basicAuth({
        users: { [config.DQS_BOARD_USER]: BOARD_PASSWORD },
        challenge: true,
        realm: 'dqs',
      }),
      boardOptions: { uiConfig: { boardTitle: 'dqs' } },
    }),
    BullBoardModule.forFeature(
      { name: CHUNKS_QUEUE, adapter: BullMQAdapter },
      { name: RUNS_QUEUE, adapter: BullMQAdapter },
    ),
    PrometheusModule.register(),
  ],
  controllers: [ApiController, HealthController, WebController],
  providers: [
    { provide: ServiceConfig, useValue: config },
    CoordinatorContext,
    RunsService,
    DownloadsService,
    QueueMetrics,
    TokenGuard,
    LiveViewService,
  ],
})
export class CoordinatorModule implements NestModule {
  configure(_consumer: MiddlewareConsumer): void {}
}
