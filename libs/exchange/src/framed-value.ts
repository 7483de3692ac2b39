import { Command, type Redis } from 'ioredis';

/** Room before the value for `*6 $3 SET $<n> <key> $<n>` and after it for `PX <ttl> NX`. */
const HEAD_ROOM = 512;
const TAIL_ROOM = 64;

/**
 * A value of a fixed size in a buffer with room around it for the RESP framing of
 * `SET key value PX ttl NX`, so that a megabyte-sized shard result goes to the socket as encoded,
 * without a copy. (ioredis copies a Buffer argument into a new buffer for every command, and a
 * MULTI's commands once more into one: two fresh megabyte allocations and copies a write, about a
 * quarter of a worker's main-thread CPU at batch 1024 with 2 workers.) Encode into `value`, then
 * write with setResult; reuse the buffer once that write is answered.
 */
export class FramedValue {
  readonly value: Buffer;
  private readonly buf: Buffer;

  constructor(bytes: number) {
    // outside Node's shared pool: a buffer of its own, reused write after write
    this.buf = Buffer.allocUnsafeSlow(HEAD_ROOM + bytes + TAIL_ROOM);
    this.value = this.buf.subarray(HEAD_ROOM, HEAD_ROOM + bytes);
  }

  /** The whole command around the value in place; undefined when the key does not fit the room. */
  frame(key: string, ttlMs: number): Buffer | undefined {
    const n = this.value.byteLength;
    const head = Buffer.from(`*6\r\n$3\r\nSET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n$${n}\r\n`);
    const ttl = String(Math.trunc(ttlMs));
    const tail = Buffer.from(`\r\n$2\r\nPX\r\n$${ttl.length}\r\n${ttl}\r\n$2\r\nNX\r\n`);
    if (head.byteLength > HEAD_ROOM || tail.byteLength > TAIL_ROOM) return undefined;
    head.copy(this.buf, HEAD_ROOM - head.byteLength);
    tail.copy(this.buf, HEAD_ROOM + n);
    return this.buf.subarray(HEAD_ROOM - head.byteLength, HEAD_ROOM + n + tail.byteLength);
  }
}

/**
 * `SET key value PX ttl NX` sent as `frame` (FramedValue.frame): the arguments are given as well,
 * so that a cluster client finds the key's slot and a redirected command is sent again whole.
 */
class FramedSetCommand extends Command {
  constructor(
    args: (string | Buffer)[],
    private readonly frame: Buffer,
  ) {
    super('set', args, { replyEncoding: 'utf8' });
  }

  override toWritable(): Buffer {
    return this.frame;
  }
}

/** SET key value PX ttl NX, the value framed in place when it can be (else as ioredis writes any value). */
export function setOnce(redis: Redis, key: string, value: Buffer | string | FramedValue, ttlMs: number) {
  if (!(value instanceof FramedValue)) return redis.set(key, value, 'PX', ttlMs, 'NX');
  const frame = value.frame(key, ttlMs);
  if (!frame) return redis.set(key, value.value, 'PX', ttlMs, 'NX');
  const command = new FramedSetCommand([key, value.value, 'PX', String(Math.trunc(ttlMs)), 'NX'], frame);
  void redis.sendCommand(command);
  return command.promise as Promise<'OK' | null>;
}
