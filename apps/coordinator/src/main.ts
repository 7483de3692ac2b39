import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import {
  browserGuard,
  configOrExit,
  exitWithParent,
  jsonBoundsGuard,
  listenOrExit,
  logLevels,
  nnqVersion,
  shutdownRedis,
} from '@nnq/cluster';
import { isLoopback } from './auth/api-token.guard';
import { CoordinatorModule } from './coordinator.module';
import { mountQueuesBoard } from './dashboard/queues-board';

async function bootstrap(): Promise<void> {
  const config = configOrExit('coordinator');
  if (!isLoopback(config.NNQ_HOST) && !config.NNQ_API_TOKEN && config.NNQ_ALLOW_PUBLIC_WITHOUT_TOKEN !== '1') {
    process.stderr.write(
      `nnq coordinator: refusing to listen on ${config.NNQ_HOST} without NNQ_API_TOKEN: ` +
        'anyone on the network could submit and cancel runs. ' +
        'Set NNQ_API_TOKEN, bind to 127.0.0.1, or set NNQ_ALLOW_PUBLIC_WITHOUT_TOKEN=1 to accept the risk.\n',
    );
    process.exit(78);
  }
  const app = await NestFactory.create<NestExpressApplication>(CoordinatorModule.forRoot(config), {
    logger: logLevels(config.NNQ_LOG_LEVEL),
    // only the JSON parser below: no urlencoded one for forms to reach
    bodyParser: false,
  });
  app.enableShutdownHooks();
  // Host, Origin and content-type checks (browser-borne requests) come before parsing and routing
  app.use(browserGuard(config));
  // run configs with connection masks can be large; anything bigger is refused with 413.
  // strict: false lets a JSON string or number through to validation ("expected object, received
  // string") instead of body-parser calling valid JSON "not valid JSON"
  app.useBodyParser('json', { limit: '16mb', strict: false });
  // nesting and sizes are bounded before any handler or schema walks a body recursively
  app.use(jsonBoundsGuard());
  const doc = new DocumentBuilder().setTitle('nnq coordinator').setVersion(nnqVersion()).addBearerAuth().build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));
  // bull-board at /queues, behind NNQ_API_TOKEN when one is set; mounted before listen() (Nest's 404 comes last)
  mountQueuesBoard(app, config.NNQ_API_TOKEN);
  await listenOrExit(app, 'coordinator', config.NNQ_PORT, config.NNQ_HOST, 'NNQ_PORT');
  exitWithParent(async () => {
    // at most 10 s for a graceful close; then the Redis this cluster owns goes with it
    await Promise.race([app.close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    if (config.NNQ_OWNS_REDIS === '1') await shutdownRedis(config.REDIS_URL);
  });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.NNQ_PORT;
  new Logger('Coordinator').log(`coordinator listening on http://${config.NNQ_HOST}:${port}`);
}

void bootstrap();
