/** Configuration of every service, from the environment, validated at start-up (one image, every role). */
import { plainToInstance, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import { hostname } from 'node:os';

export class ServiceConfig {
  @IsString()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must look like redis://host:6379' })
  REDIS_URL!: string;

  @IsOptional()
  @IsString()
  G2S_DATA_DIR?: string;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** Worker: chunks computing at once. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  DQS_SLOTS = 1;

  /** Worker: kernel threads per chunk (default: the run's -j). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  DQS_THREADS?: number;

  /** Worker: chunks held at once, counting those blocked on neighbours (which use no CPU). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  DQS_MAX_HELD_CHUNKS = 64;

  /** Worker: how long a chunk may stay blocked, when the worker holds its maximum, before it is re-queued. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  DQS_YIELD_AFTER_MS = 5000;

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  DQS_LOCK_DURATION_MS = 30000;

  @Type(() => Number)
  @IsInt()
  @Min(500)
  DQS_STALLED_INTERVAL_MS = 15000;

  @IsString()
  @Matches(/^[A-Za-z0-9_.-]{1,100}$/, { message: 'DQS_WORKER_NAME may hold letters, digits, _ . and - only' })
  DQS_WORKER_NAME = `${hostname()}-${process.pid}`;

  /** Worker: capability tags it offers, comma-separated (for example cpu,avx2,highmem). */
  @IsString()
  @Matches(/^[A-Za-z0-9_.,-]*$/, {
    message: 'DQS_CAPABILITIES is a comma-separated list of words (letters, digits, _ . -)',
  })
  DQS_CAPABILITIES = '';

  /** Coordinator: when set, every call that changes something needs "Authorization: Bearer <token>". */
  @IsOptional()
  @IsString()
  DQS_TOKEN?: string;

  /** Coordinator: Bull Board login (default user dqs; password: DQS_BOARD_PASSWORD, else the token). */
  @IsString()
  DQS_BOARD_USER = 'dqs';

  @IsOptional()
  @IsString()
  DQS_BOARD_PASSWORD?: string;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  DQS_MAX_UPLOAD_MB = 512;

  /** Results: how long a finished run's records (state, chunk states, logs) and unreferenced arrays are kept. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  DQS_RETENTION_SECONDS = 7 * 24 * 3600;

  /** Results: how often the clean-up runs. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  DQS_SWEEP_SECONDS = 600;

  @IsString()
  LOG_LEVEL = 'info';
}

export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const known = Object.keys(new ServiceConfig()).concat([
    'REDIS_URL',
    'G2S_DATA_DIR',
    'DQS_TOKEN',
    'DQS_BOARD_PASSWORD',
    'DQS_THREADS',
  ]);
  const raw: Record<string, string> = {};
  for (const k of known) if (env[k] !== undefined && env[k] !== '') raw[k] = env[k]!;
  const config = plainToInstance(ServiceConfig, raw, { exposeDefaultValues: true });
  const errors = validateSync(config);
  if (errors.length > 0) {
    const lines = errors.map(
      (e) => `  ${e.property}=${JSON.stringify(e.value)}: ${Object.values(e.constraints ?? {}).join('; ')}`,
    );
    throw new Error(`invalid configuration (environment variables):\n${lines.join('\n')}`);
  }
  return config;
}
