/** dqs coordinator: the REST API (/v1, OpenAPI at /docs), Bull Board (/queues), /health and /metrics. */
import 'reflect-metadata';
import { BadRequestException, Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { raw } from 'express';
import type { ValidationError } from 'class-validator';
import { loadServiceConfig } from '@dqs/protocol';
import { BOARD_PASSWORD, CoordinatorModule } from './coordinator.module';

function describeErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) =>
      m.startsWith(e.property) ? `${parent ? parent + '.' : ''}${m}` : `${field}: ${m}`,
    );
    return [...own, ...describeErrors(e.children ?? [], field)];
  });
}

async function main(): Promise<void> {
  const config = loadServiceConfig();
  const app = await NestFactory.create<NestExpressApplication>(CoordinatorModule, {
    logger: ['log', 'warn', 'error'],
    bodyParser: false,
  });
  app.use('/v1/arrays', raw({ type: () => true, limit: `${config.DQS_MAX_UPLOAD_MB}mb` }));
  app.useBodyParser('json', { limit: '10mb' });
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => new BadRequestException(describeErrors(errors)),
    }),
  );
  app.enableShutdownHooks();
  const doc = new DocumentBuilder()
    .setTitle('dqs')
    .setDescription(
      'Distributed QuickSampling: prepare inputs, launch runs over a job grid, follow them, download chunks and mosaics.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, SwaggerModule.createDocument(app, doc));
  await app.listen(config.PORT, '0.0.0.0');
  const url = await app.getUrl();
  const log = new Logger('coordinator');
  log.log(`API ${url}/v1, OpenAPI ${url}/docs, Bull Board ${url}/queues (user ${config.DQS_BOARD_USER})`);
  if (!config.DQS_BOARD_PASSWORD && !config.DQS_TOKEN)
    log.log(`Bull Board password for this start: ${BOARD_PASSWORD}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`dqs coordinator: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
