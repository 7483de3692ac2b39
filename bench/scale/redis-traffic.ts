import type { Redis } from 'ioredis';
import { TRAILER_BYTES } from '@nnq/protocol';

/** Bytes Redis has received and sent since it started (INFO stats). */
export interface RedisTraffic {
  input: number;
  output: number;
}

/** Read total_net_input_bytes and total_net_output_bytes from INFO stats. */
export async function redisTraffic(redis: Redis): Promise<RedisTraffic> {
  const info = await redis.info('stats');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
}

/**
 * Expected bytes through Redis per step (docs/deploy.md "Redis traffic per step"): P parameters,
 * S shards, W workers, k optimizer slots (sgd 0, momentum/nesterov/rmsprop 1, adam/adamw 2), T the
 * bytes of a shard result's trailer (TRAILER_BYTES: loss, correct, rows and the engine tag).
 *   unsliced: S(4P + T) in + S(4P + T) out (gradients), 4P in + min(W, S) 4P out (parameters)
 *   sliced:   the same, plus 4P out (reducers read version v), 4kP in + 4kP out (slice state), TS out (trailers)
 */
export function expectedTraffic(P: number, S: number, W: number, k: number, sliced: boolean): RedisTraffic {
  const grad = S * (4 * P + TRAILER_BYTES);
  const readers = Math.min(W, S) * 4 * P;
  if (!sliced) return { input: grad + 4 * P, output: grad + readers };
  return { input: grad + 4 * P + 4 * k * P, output: S * 4 * P + TRAILER_BYTES * S + 4 * P + readers + 4 * k * P };
}
