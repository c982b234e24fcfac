import { Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { ServiceConfig, loadServiceConfig } from '@dqs/protocol';
import { HealthController } from './health.controller';
import { ResultsService } from './results.service';

@Module({
  imports: [PrometheusModule.register()],
  controllers: [HealthController],
  providers: [{ provide: ServiceConfig, useFactory: () => loadServiceConfig() }, ResultsService],
})
export class ResultsModule {}
