import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { KEYS, NNQ_CONFIG, bullConnection, type NnqConfig } from '@nnq/cluster';
import { SHARD_QUEUE, type KeySchema } from '@nnq/protocol';
import { QueueEvents, type ConnectionOptions } from 'bullmq';

/**
 * Reads of the event stream start at least this far apart. Every job adds four events (added,
 * waiting, active, completed) that nobody here reads, and a blocking XREAD returns on the first:
 * a read each burst cost ~7 XREADs a step, each one a round trip and a parse. Spaced, one read takes
 * every event since the last (the stream keeps ~10000); a lone event after a quiet spell still
 * comes at once. The events read (failed, stalled, delayed) are rare and not urgent by 100 ms.
 */
export const EVENT_READ_GAP_MS = 100;

/** Space the XREADs of `events` (not yet running) at least `gapMs` apart (start to start). */
export function spaceReads(events: QueueEvents, gapMs: number): void {
  const backend = events.backend;
  const read = backend.readEvents.bind(backend);
  let last = -Infinity;
  backend.readEvents = async (id, blockMs) => {
    const wait = last + gapMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // closing: no read on a connection being closed (the loop ends on a null)
    if (events.closing) return null;
    last = Date.now();
    return read(id, blockMs);
  };
}

/**
 * The coordinator's one reader of the shard queue's events (BullMQ QueueEvents, a connection of
 * its own): the shard waiter hears failures, the queue metrics stalls and retries. (Each had its
 * own, and every event was read twice.)
 */
@Injectable()
export class ShardEvents implements OnApplicationShutdown {
  private readonly logger = new Logger(ShardEvents.name);
  readonly events: QueueEvents;

  constructor(@Inject(NNQ_CONFIG) config: NnqConfig, @Inject(KEYS) keys: KeySchema) {
    this.events = new QueueEvents(SHARD_QUEUE, {
      connection: bullConnection(config) as ConnectionOptions,
      prefix: keys.bullPrefix(),
      autorun: false,
    });
    this.events.on('error', (err) => this.logger.warn(`queue events: ${err.message}`));
    spaceReads(this.events, EVENT_READ_GAP_MS);
    this.events.run().catch((err: Error) => this.logger.warn(`queue events: ${err.message}`));
  }

  /** Resolves once the stream is read (events before that are not seen). */
  async ready(): Promise<void> {
    await this.events.waitUntilReady();
    // the first XREAD starts at the stream's end right after the connection is up
    await new Promise((r) => setTimeout(r, 100));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.events.close();
  }
}
