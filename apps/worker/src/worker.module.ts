import { Module } from '@nestjs/common';
import { ServiceConfig, loadServiceConfig } from '@dqs/protocol';
import { ChunkWorkerService } from './chunk-worker.service';

@Module({
  providers: [{ provide: ServiceConfig, useFactory: () => loadServiceConfig() }, ChunkWorkerService],
})
export class WorkerModule {}
