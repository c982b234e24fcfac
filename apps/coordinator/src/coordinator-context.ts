/** The coordinator's shared handles: configuration, data directory, array store, run repository, Redis. */
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { ServiceConfig, redisOptionsFromUrl } from '@dqs/protocol';
import { ArrayStore, RunRepository, WorkerRegistry, resolveDataDirs } from '@dqs/store';

@Injectable()
export class CoordinatorContext implements OnApplicationShutdown {
  readonly dataDir: string;
  readonly store: ArrayStore;
  readonly redis: Redis;
  readonly runs: RunRepository;
  readonly workers: WorkerRegistry;

  constructor(readonly config: ServiceConfig) {
    this.dataDir = resolveDataDirs(process.env).data;
    this.store = new ArrayStore(this.dataDir);
    this.redis = new Redis({ ...redisOptionsFromUrl(config.REDIS_URL), maxRetriesPerRequest: 2 });
    this.runs = new RunRepository(this.redis);
    this.workers = new WorkerRegistry(this.redis);
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
