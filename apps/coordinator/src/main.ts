import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { configOrExit, exitWithParent, listenOrExit, logLevels, nnqVersion } from '@nnq/cluster';
import { CoordinatorModule } from './coordinator.module';

async function bootstrap(): Promise<void> {
  const config = configOrExit('coordinator');
  const app = await NestFactory.create<NestExpressApplication>(CoordinatorModule.forRoot(config), {
    logger: logLevels(config.NNQ_LOG_LEVEL),
  });
  app.enableShutdownHooks();
  // run configs with connection masks can be large; anything bigger is refused with 413
  app.useBodyParser('json', { limit: '16mb' });
  const doc = new DocumentBuilder().setTitle('nnq coordinator').setVersion(nnqVersion()).addBearerAuth().build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));
  await listenOrExit(app, 'coordinator', config.NNQ_PORT, config.NNQ_HOST, 'NNQ_PORT');
  exitWithParent(() => app.close());
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.NNQ_PORT;
  new Logger('Coordinator').log(`coordinator listening on http://${config.NNQ_HOST}:${port}`);
}

void bootstrap();
