/** Prometheus gauges of the queues (job counts per state), read when /metrics is scraped. */
import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { Gauge, register } from 'prom-client';
import { CHUNKS_QUEUE, RUNS_QUEUE } from '@dqs/protocol';

@Injectable()
export class QueueMetrics implements OnModuleInit {
  constructor(
    @InjectQueue(CHUNKS_QUEUE) private readonly chunks: Queue,
    @InjectQueue(RUNS_QUEUE) private readonly runs: Queue,
  ) {}

  onModuleInit(): void {
    const queues = [this.chunks, this.runs];
    if (register.getSingleMetric('dqs_queue_jobs')) return;
    new Gauge({
      name: 'dqs_queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      async collect() {
        for (const q of queues) {
          const counts = await q.getJobCounts(
            'waiting',
            'active',
            'delayed',
            'completed',
            'failed',
            'waiting-children',
          );
          for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
        }
      },
    });
    new Gauge({
      name: 'dqs_workers',
      help: 'Workers connected to the chunks queue',
      collect: async function () {
        this.set(await queues[0].getWorkersCount());
      },
    });
  }
}
