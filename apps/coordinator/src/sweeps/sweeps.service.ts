import {
  BadRequestException,
  Injectable,
  Logger,
  NotFoundException,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { parseSweepConfig, plannedTrials, rankByObjective, SweepConfigError, type SweepConfig } from '@nnq/sweeps';
import { randomBytes } from 'node:crypto';
import { checkSourceAccess } from '../datasets/data-access';
import { RunsService } from '../runs/runs.service';
import { isSweepTerminal, type SweepRecord, type SweepSummary, type SweepView } from '@nnq/protocol';
import { SweepRunner } from './sweep-runner';
import { SweepStore } from './sweep-store.service';

/** Submits, schedules, cancels and continues sweeps; their trials are ordinary runs. */
@Injectable()
export class SweepsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SweepsService.name);
  private readonly runners = new Map<string, SweepRunner>();
  private readonly finished = new Map<string, Promise<SweepRecord>>();

  constructor(
    private readonly runs: RunsService,
    private readonly store: SweepStore,
  ) {}

  /** Sweeps left running by a previous coordinator continue; their trials' runs resume by themselves. */
  async onApplicationBootstrap(): Promise<void> {
    for (const record of await this.store.list(10_000)) {
      if (isSweepTerminal(record.state) || this.runners.has(record.id)) continue;
      try {
        this.logger.log(`continuing sweep ${record.id} (${record.name}) at trial ${record.trials.length}`);
        this.start(record, parseSweepConfig(record.config));
      } catch (err) {
        const error = `cannot continue: ${(err as Error).message}`;
        this.logger.error(`sweep ${record.id}: ${error}`);
        await this.store.save({ ...record, state: 'failed', error, finishedAt: new Date().toISOString() });
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const r of this.runners.values()) r.shutdown();
    await Promise.allSettled([...this.finished.values()]);
  }

  /** Validate the sweep config (400 lists problems by path) and start scheduling its trials. */
  async submit(body: unknown): Promise<SweepView> {
    let config: SweepConfig;
    try {
      // every trial the sweep can propose is checked against the memory budgets too
      config = parseSweepConfig(body, this.runs.budgets);
    } catch (err) {
      if (err instanceof SweepConfigError)
        throw new BadRequestException({ message: 'invalid sweep config', problems: err.problems });
      throw err;
    }
    // a base source outside the data roots would fail every trial: refuse the sweep (trials are checked too)
    const source = config.base.dataset.source;
    if (source) checkSourceAccess(source, this.runs.fileAccess, 'base.dataset.source');
    const record: SweepRecord = {
      id: randomBytes(6).toString('hex'),
      name: config.name,
      state: 'running',
      createdAt: new Date().toISOString(),
      config: body,
      planned: plannedTrials(config),
      objective: config.objective,
      trials: [],
      rungs: {},
    };
    await this.store.create(record);
    this.start(record, config);
    return this.view(record);
  }

  private start(record: SweepRecord, config: SweepConfig): void {
    const runner = new SweepRunner(record, config, this.runs, this.store);
    this.runners.set(record.id, runner);
    const done = runner
      .run()
      .catch((err: Error) => {
        this.logger.error(`sweep ${record.id} scheduler crashed: ${err.stack ?? err.message}`);
        return record;
      })
      .finally(() => this.runners.delete(record.id));
    this.finished.set(record.id, done);
  }

  async get(id: string): Promise<SweepView> {
    const r = this.runners.get(id)?.current() ?? (await this.store.get(id));
    if (!r) throw new NotFoundException(`no sweep with id ${JSON.stringify(id)}`);
    return this.view(r);
  }

  async list(): Promise<SweepSummary[]> {
    return (await this.store.list()).map(({ trials, rungs: _r, config: _c, ...rest }) => ({
      ...rest,
      trialsStarted: trials.length,
    }));
  }

  async cancel(id: string): Promise<SweepView> {
    const r = await this.get(id);
    if (isSweepTerminal(r.state)) return r;
    const runner = this.runners.get(id);
    if (!runner) {
      await this.store.save({ ...r, state: 'cancelled', finishedAt: new Date().toISOString() });
      return this.get(id);
    }
    runner.cancel();
    return this.view((await this.finished.get(id)) ?? r);
  }

  /** Resolves when the sweep has ended (tests). */
  async settled(id: string): Promise<SweepView> {
    const done = this.finished.get(id);
    return done ? this.view(await done) : this.get(id);
  }

  private view(r: SweepRecord): SweepView {
    const { leaderboard: _l, ...record } = r as SweepView;
    return { ...record, leaderboard: rankByObjective(r.trials, r.objective.mode) };
  }
}
