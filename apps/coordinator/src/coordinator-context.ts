/** The coordinator's shared handles: configuration, data directory, array store, run repository, Redis. */
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_PREFIX, ServiceConfig, redisOptionsFromUrl } from '@dqs/protocol';
import { ArrayStore, RunRepository, WorkerRegistry, migrateLegacyLayout, resolveDataDirs } from '@dqs/store';

@Injectable()
export class CoordinatorContext implements OnApplicationShutdown {
  readonly dataDir: string;
  readonly store: ArrayStore;
  readonly redis: Redis;
  readonly runs: RunRepository;
  readonly workers: WorkerRegistry;

  constructor(readonly config: ServiceConfig) {
    this.dataDir = resolveDataDirs(process.env).data;
    migrateLegacyLayout(this.dataDir); // before namespaces: names/*.json and runs/<run>/ (the results service too)
    this.store = new ArrayStore(this.dataDir);
    this.redis = new Redis({ ...redisOptionsFromUrl(config.REDIS_URL), maxRetriesPerRequest: 2 });
    this.runs = new RunRepository(this.redis);
    this.workers = new WorkerRegistry(this.redis);
  }

  private readonly queues = new Map<string, Queue>();

  /** A chunk queue by name ('chunks', or one per set of required capabilities). */
  chunkQueue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, {
        connection: redisOptionsFromUrl(this.config.REDIS_URL) as ConnectionOptions,
        prefix: QUEUE_PREFIX,
      });
      this.queues.set(name, q);
    }
    return q;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.redis.disconnect();
  }
}
