/** The live workers as they report themselves (every 3 s; an entry expires 10 s after a worker's last word). */
import type { Redis } from 'ioredis';
import { WORKERS_KEY, WORKER_CONTROL_CHANNEL, workerKey, workerPausedKey } from '@dqs/protocol';

export interface WorkerInfo {
  name: string;
  slots: number;
  /** Kernel threads per chunk; 0 = each run's -j. */
  threads: number;
  capabilities: string[];
  paused: boolean;
  startedAt: string;
  lastSeen: string;
  chunks: { runId: string; jobId: string; state: string; done: number; total: number }[];
}

export class WorkerRegistry {
  constructor(private readonly redis: Redis) {}

  async list(): Promise<WorkerInfo[]> {
    const entries = await this.redis.zrange(WORKERS_KEY, '0', '-1', 'WITHSCORES');
    const out: WorkerInfo[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      const name = entries[i];
      const h = await this.redis.hgetall(workerKey(name));
      if (!h.name) {
        await this.redis.zrem(WORKERS_KEY, name);
        continue;
      }
      out.push({
        name,
        slots: Number(h.slots),
        threads: Number(h.threads),
        capabilities: h.capabilities ? h.capabilities.split(',').filter(Boolean) : [],
        paused: h.paused === '1',
        startedAt: h.startedAt,
        lastSeen: new Date(Number(entries[i + 1])).toISOString(),
        chunks: JSON.parse(h.chunks || '[]') as WorkerInfo['chunks'],
      });
    }
    return out;
  }

  async setPaused(name: string, paused: boolean): Promise<void> {
    if (paused) await this.redis.set(workerPausedKey(name), '1');
    else await this.redis.del(workerPausedKey(name));
    await this.redis.publish(WORKER_CONTROL_CHANNEL, `${paused ? 'pause' : 'resume'} ${name}`);
  }
}
