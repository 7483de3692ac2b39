import { Inject, Injectable } from '@nestjs/common';
import { KEYS, REDIS } from '@nnq/cluster';
import { parseSecondOrderConfig, type SecondOrderConfig } from '@nnq/nn';
import type { KeySchema } from '@nnq/protocol';
import { parseRunConfig, type RunConfig } from '@nnq/training';
import type { Redis } from 'ioredis';
import type { HistoryEntry, RunRecord } from '@nnq/protocol';
import { scanKeys } from './run-jobs';

/** What a finished run keeps in Redis until it is removed. */
const KEPT_KEYS = [':state', ':history', ':config', ':second-order', ':model'];

/** Runs, their configs and histories in Redis: the state a restarted coordinator resumes from. */
@Injectable()
export class RunStore {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KEYS) private readonly keys: KeySchema,
  ) {}

  /** `secondOrder`: the run's lbfgs or hessian_free optimizer (config.optimizer is its stand-in). */
  async create(record: RunRecord, config: RunConfig, secondOrder?: SecondOrderConfig | null): Promise<void> {
    const m = this.redis.multi();
    if (secondOrder) m.set(this.keys.runSecondOrder(record.id), JSON.stringify(secondOrder));
    await m
      .set(this.keys.runConfig(record.id), JSON.stringify(config))
      .set(this.keys.runState(record.id), JSON.stringify(record))
      .exec();
    await this.redis.zadd(this.keys.runs(), Date.parse(record.createdAt), record.id);
  }

  async save(record: RunRecord): Promise<void> {
    await this.redis.set(this.keys.runState(record.id), JSON.stringify(record));
  }

  async get(id: string): Promise<RunRecord | null> {
    const raw = await this.redis.get(this.keys.runState(id));
    return raw ? (JSON.parse(raw) as RunRecord) : null;
  }

  async config(id: string): Promise<RunConfig | null> {
    const raw = await this.redis.get(this.keys.runConfig(id));
    return raw ? parseRunConfig(JSON.parse(raw)) : null;
  }

  /** A second-order run's optimizer config, null for a first-order run. */
  async secondOrder(id: string): Promise<SecondOrderConfig | null> {
    const raw = await this.redis.get(this.keys.runSecondOrder(id));
    return raw ? parseSecondOrderConfig(JSON.parse(raw)) : null;
  }

  /** Newest first. */
  async list(limit = 200): Promise<RunRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.runs(), 0, limit - 1);
    if (!ids.length) return [];
    // run states sit in different hash slots of a Redis Cluster, where one MGET cannot span them
    const raws = this.redis.isCluster
      ? await Promise.all(ids.map((id) => this.redis.get(this.keys.runState(id))))
      : await this.redis.mget(ids.map((id) => this.keys.runState(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as RunRecord);
  }

  /** The record and the history entries since the last save, in one round trip. */
  async saveProgress(record: RunRecord, entries: HistoryEntry[]): Promise<void> {
    const m = this.redis.multi();
    if (entries.length) m.rpush(this.keys.runHistory(record.id), ...entries.map((e) => JSON.stringify(e)));
    await m.set(this.keys.runState(record.id), JSON.stringify(record)).exec();
  }

  async history(id: string): Promise<HistoryEntry[]> {
    return (await this.redis.lrange(this.keys.runHistory(id), 0, -1)).map((r) => JSON.parse(r) as HistoryEntry);
  }

  /** Drop history beyond `step` (a resumed run replays those steps). */
  async truncateHistory(id: string, step: number): Promise<void> {
    const kept = (await this.history(id)).filter((e) => e.step <= step && !(e.type === 'step' && e.step >= step));
    const key = this.keys.runHistory(id);
    const m = this.redis.multi().del(key);
    if (kept.length) m.rpush(key, ...kept.map((e) => JSON.stringify(e)));
    await m.exec();
  }

  /**
   * Delete the run's transient keys (parameters, manifest, splits, results, checkpoints: the run
   * will not resume); state, history, config and the model (NNQ_RUN_STORE=redis) stay.
   */
  async deleteTransient(id: string): Promise<void> {
    // the manifest first: a worker's result write checks it in the same MULTI (set-result.ts), so
    // one written after this deletes itself, and one written before is there for the SCAN below
    await this.redis.del(this.keys.runManifest(id));
    // the run's keys share its hash slot; SCAN asks every master of a Redis Cluster
    const transient = (await scanKeys(this.redis, `${this.keys.prefix}:{run:${id}}:*`)).filter(
      (k) => !KEPT_KEYS.some((suffix) => k.endsWith(suffix)),
    );
    if (transient.length) await this.redis.del(...transient);
  }

  /** Ids of runs created before `before` (ms since the epoch), oldest first (retention). */
  createdBefore(before: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.runs(), '-inf', `(${before}`);
  }

  /** Delete every key of the run (record, config, history, and whatever is left) and its index entry. */
  async remove(id: string): Promise<void> {
    // the manifest first, as in deleteTransient: a shard written meanwhile deletes itself
    await this.redis.del(this.keys.runManifest(id));
    const keys = await scanKeys(this.redis, `${this.keys.prefix}:{run:${id}}:*`);
    if (keys.length) await this.redis.del(...keys);
    await this.redis.zrem(this.keys.runs(), id);
  }
}
