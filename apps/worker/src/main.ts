import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { browserGuard, configOrExit, exitWithParent, listenOrExit, logLevels } from '@nnq/cluster';
import { HeartbeatService } from './heartbeat.service';
import { WorkerModule } from './worker.module';

async function bootstrap(): Promise<void> {
  const config = configOrExit('worker');
  const app = await NestFactory.create(WorkerModule.forRoot(config), { logger: logLevels(config.NNQ_LOG_LEVEL) });
  app.enableShutdownHooks();
  // /metrics and /health are reads, but DNS rebinding could read them from a page: check the Host
  app.use(browserGuard(config));
  // the worker's own small HTTP server: /health and /metrics (port 0 picks a free one)
  await listenOrExit(app, 'worker', config.NNQ_WORKER_PORT, config.NNQ_HOST, 'NNQ_WORKER_PORT');
  exitWithParent(() => app.close());
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.NNQ_WORKER_PORT;
  const heartbeat = app.get(HeartbeatService);
  heartbeat.port = port;
  await heartbeat.beat();
  new Logger('Worker').log(
    `worker ${heartbeat.info().id} serving /health and /metrics on http://${config.NNQ_HOST}:${port}`,
  );
}

void bootstrap();
