/**
 * The halo exchange over Redis. Each chunk appends batches of set-pixel records to its own durable stream
 * (keyed by its DI identifier, with the run id as hash tag) and rings a pub/sub doorbell on a channel keyed the
 * same way. Readers pull from the streams: on a doorbell, and every pollMs anyway, because pub/sub alone can
 * lose messages. Applying a record is idempotent (values are written only where still empty), so a reader can
 * always start again from the beginning of a stream.
 */
import type { Redis } from 'ioredis';
import { CellRecords, chunkStreamKey, chunkWakeChannel, decodeRecords, encodeRecords } from '@dqs/protocol';

export interface StreamSource {
  key: string;
  channel: string;
}

export function streamOf(runId: string, diId: string): StreamSource {
  return { key: chunkStreamKey(runId, diId), channel: chunkWakeChannel(runId, diId) };
}

type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/** Appends record batches to a stream, in order, and rings the doorbell after each. */
export class StreamWriter {
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  batches = 0;
  bytes = 0;

  constructor(
    private readonly redis: Redis,
    private readonly source: StreamSource,
  ) {}

  append(records: CellRecords): void {
    if (records.g.length === 0) return;
    const payload = encodeRecords(records);
    this.batches++;
    this.bytes += payload.length;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await this.redis.xadd(this.source.key, '*', 'r', payload);
        await this.redis.publish(this.source.channel, '1');
      } catch (e) {
        this.failure = e as Error;
      }
    });
  }

  /** Resolves once every appended batch is in Redis; throws the first write error. */
  async flush(): Promise<void> {
    await this.chain;
    if (this.failure) throw new Error(`halo stream ${this.source.key}: ${this.failure.message}`);
  }
}

/** Reads every record of one stream from the start (a chunk's own checkpoint, or results' collection). */
export async function readWholeStream(
  redis: Redis,
  key: string,
  onRecords: (r: CellRecords) => void,
): Promise<number> {
  let start = '-';
  let count = 0;
  for (;;) {
    const entries = (await redis.xrangeBuffer(key, start, '+', 'COUNT', 500)) as unknown as [
      Buffer,
      Buffer[],
    ][];
    if (entries.length === 0) return count;
    for (const [, fields] of entries) {
      for (let f = 0; f + 1 < fields.length; f += 2) {
        if (fields[f].toString() === 'r') {
          const r = decodeRecords(fields[f + 1]);
          count += r.g.length;
          onRecords(r);
        }
      }
    }
    start = `(${entries[entries.length - 1][0].toString()}`;
  }
}

/** Follows several streams from their beginning, calling onRecords for each batch, until stopped. */
export class StreamFollower {
  private readonly lastIds: string[];
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private again = false;
  private stopped = false;
  private failure: Error | undefined;
  batches = 0;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly sources: StreamSource[],
    private readonly onRecords: (r: CellRecords) => void,
    private readonly pollMs = 250,
  ) {
    this.lastIds = sources.map(() => '0');
  }

  async start(): Promise<void> {
    if (this.sources.length === 0) return;
    this.subscriber.on('message', this.onMessage);
    await this.subscriber.subscribe(...this.sources.map((s) => s.channel));
    this.timer = setInterval(() => this.poke(), this.pollMs);
    await this.readAvailable();
  }

  private readonly onMessage = (channel: string) => {
    if (this.sources.some((s) => s.channel === channel)) this.poke();
  };

  /** Schedules a read; reads never overlap. */
  poke(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.readAvailable();
  }

  private async readAvailable(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.again = false;
        for (;;) {
          const reply = (await this.redis.xreadBuffer(
            'COUNT',
            200,
            'STREAMS',
            ...this.sources.map((s) => s.key),
            ...this.lastIds,
          )) as unknown as XReadReply;
          if (!reply || this.stopped) break;
          for (const [keyBuf, entries] of reply) {
            const k = this.sources.findIndex((s) => s.key === keyBuf.toString());
            for (const [id, fields] of entries) {
              for (let f = 0; f + 1 < fields.length; f += 2) {
                if (fields[f].toString() === 'r') {
                  this.batches++;
                  this.onRecords(decodeRecords(fields[f + 1]));
                }
              }
              this.lastIds[k] = id.toString();
            }
          }
        }
      } while (this.again && !this.stopped);
    } catch (e) {
      if (!this.stopped) this.failure = e as Error;
    } finally {
      this.reading = false;
    }
  }

  /** The first read error, if any (the caller decides whether to fail the chunk). */
  error(): Error | undefined {
    return this.failure;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.subscriber.off('message', this.onMessage);
    if (this.sources.length > 0)
      await this.subscriber.unsubscribe(...this.sources.map((s) => s.channel)).catch(() => undefined);
  }
}
