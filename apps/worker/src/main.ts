/** dqs worker: a NestJS application context (no HTTP API) running the chunk worker. */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
}

main().catch((e: unknown) => {
  process.stderr.write(`dqs worker: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
