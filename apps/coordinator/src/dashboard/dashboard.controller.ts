import {
  Controller,
  Get,
  Header,
  Logger,
  NotFoundException,
  Param,
  Res,
  ServiceUnavailableException,
  StreamableFile,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { AssetCache } from './dashboard-assets';
import { DashboardFeed } from './dashboard-feed.service';
import { MAX_QUEUED_BYTES, streamEvents } from './event-stream';

/** Scripts and styles only from this origin; data goes in by textContent, never as markup. */
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'";

/** The live dashboard: the page at `/`, its files under `/dashboard/`, and the event stream at `/events`. */
@ApiExcludeController()
@Controller()
export class DashboardController {
  private readonly logger = new Logger(DashboardController.name);
  private readonly assets = new AssetCache();

  constructor(private readonly feed: DashboardFeed) {
    if (!this.assets.publicDir)
      this.logger.error('dashboard files not found (apps/coordinator/src/dashboard/public): / answers 503');
  }

  @Get()
  @Header('Content-Security-Policy', CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  page(): StreamableFile {
    return this.file('index.html');
  }

  @Get('dashboard/:file')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  asset(@Param('file') file: string): StreamableFile {
    if (file === 'index.html') throw new NotFoundException();
    return this.file(file);
  }

  /**
   * Server-sent events: `snapshot` first, then `runs`, `history`, `workers` and `queue` changes.
   * A client that stops reading is dropped once MAX_QUEUED_BYTES wait for it (event-stream.ts).
   */
  @Get('events')
  events(@Res() res: ServerResponse): void {
    streamEvents(this.feed.stream(), res, (queued) =>
      this.logger.warn(
        `/events: dropped a client that is not reading (${queued} bytes queued, at most ${MAX_QUEUED_BYTES})`,
      ),
    );
  }

  private file(name: string): StreamableFile {
    if (!this.assets.publicDir) throw new ServiceUnavailableException('dashboard files are missing from this install');
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException(`no dashboard file ${JSON.stringify(name.slice(0, 80))}`);
    return new StreamableFile(asset.body, { type: asset.type, length: asset.body.length });
  }
}
