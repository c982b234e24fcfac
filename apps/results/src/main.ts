/** dqs results: collects chunk outputs, writes them durably, builds mosaics; /health and /metrics over HTTP. */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadServiceConfig } from '@dqs/protocol';
import { ResultsModule } from './results.module';

async function main(): Promise<void> {
  const config = loadServiceConfig();
  const app = await NestFactory.create(ResultsModule, { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
  await app.listen(config.PORT, '0.0.0.0');
}

main().catch((e: unknown) => {
  process.stderr.write(`dqs results: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
