import { describe, expect, it } from 'vitest';
import { exitCodeOf, formatOutcome, formatRunDetail, formatRunTable, formatWorkers, type RunView } from './run-view';

const run: RunView = {
  id: 'a1b2c3',
  name: 'spirals',
  state: 'running',
  step: 120,
  totalSteps: 400,
  epoch: 3,
  epochs: 10,
  batchSize: 64,
  shards: 4,
  loss: 0.25,
  accuracy: 0.875,
  samplesPerSecond: 5000,
  etaSeconds: 30,
  validation: { split: 'validation', step: 100, loss: 0.3, accuracy: 0.85, rows: 200 },
};

describe('run views', () => {
  it('lists runs as an aligned table', () => {
    const table = formatRunTable([run, { ...run, id: 'ffff', name: 'xor', state: 'completed', step: 400 }]);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^ID {6}NAME {5}STATE {6}STEP {5}LOSS {2}ACCURACY {2}SAMPLES\/S$/);
    expect(lines[1]).toBe('a1b2c3  spirals  running    120/400  0.25  87.5%     5.0k');
    expect(lines[2]).toBe('ffff    xor      completed  400/400  0.25  87.5%     -');
    expect(formatRunTable([])).toBe('no runs');
  });

  it('shows one run in detail', () => {
    const text = formatRunDetail({ ...run, state: 'failed', error: { reason: 'non-finite loss', step: 17 } });
    expect(text).toMatch(/^state {5}failed at step 17: non-finite loss$/m);
    expect(text).toMatch(/^step {6}120\/400 {2}epoch 4\/10$/m);
    expect(text).toMatch(/^validation {2}loss 0\.3 {2}accuracy 85\.0% {2}\(200 rows, step 100\)$/m);
  });

  it("adds an evaluation's top Hessian eigenvalue and trace (evaluation.curvature) when it has them", () => {
    const validation = { ...run.validation!, hessianTopEigenvalue: -0.0004567, hessianTrace: 12.3456 };
    expect(formatRunDetail({ ...run, validation })).toMatch(
      /^validation {2}loss 0\.3 {2}accuracy 85\.0% {2}\(200 rows, step 100\) {2}hessian top -4\.57e-4 trace 12\.35$/m,
    );
  });

  it("shows the run's model summary under the detail, with the total", () => {
    // the lecture's XOR network: 2 -> 2 relu (2*2 + 2) -> 1 (2 + 1)
    const model = [
      { index: 0, kind: 'input', outputShape: [2], params: 0 },
      { index: 1, kind: 'dense', outputShape: [2], params: 6 },
      { index: 2, kind: 'dense', outputShape: [1], params: 3 },
    ];
    const lines = formatRunDetail({ ...run, model }).split('\n');
    const at = lines.findIndex((l) => l.startsWith('model'));
    expect(lines.slice(at, at + 5)).toEqual([
      'model     LAYER  KIND   OUTPUT SHAPE  PARAMETERS',
      '          input  input  [2]           0',
      '          1      dense  [2]           6',
      '          2      dense  [1]           3',
      '          total                       9',
    ]);
    expect(formatRunDetail(run)).not.toMatch(/^model/m);
  });

  it('lists workers with how long ago they were seen', () => {
    const now = Date.parse('2026-01-01T00:00:10Z');
    const w = {
      id: 'w1',
      host: 'h',
      pid: 7,
      concurrency: 2,
      version: '0.1.0',
      engine: 'onnx',
      lastSeen: '2026-01-01T00:00:07Z',
    };
    expect(formatWorkers([w], now)).toBe(
      'WORKER  HOST  PID  CONCURRENCY  ENGINE  VERSION  LAST SEEN\n' +
        'w1      h     7    2            onnx    0.1.0    3s ago',
    );
    expect(formatWorkers([])).toBe('no live workers');
  });

  it('sums up the end of a run', () => {
    const done = {
      ...run,
      state: 'completed' as const,
      step: 400,
      test: { ...run.validation!, split: 'test' as const },
    };
    expect(formatOutcome(done)).toMatch(
      new RegExp(
        String.raw`^run a1b2c3 \(spirals\) completed: 400/400 steps\n` +
          String.raw` {2}train {7}loss 0\.25 {2}accuracy 87\.5% {2}\(last batch\)\n` +
          String.raw` {2}validation {2}loss 0\.3 {2}accuracy 85\.0%.*\n {2}test {8}loss`,
      ),
    );
    expect(formatOutcome({ ...run, state: 'failed', error: { reason: 'boom', step: 9 } }, false)).toMatch(
      /^run a1b2c3 \(spirals\) failed at step 9: boom\n {2}train {7}loss 0\.25 {2}\(last batch\)/,
    );
    expect(formatOutcome({ ...run, state: 'cancelled' })).toMatch(/cancelled at step 120\/400/);
  });

  it.each([
    ['completed', 0],
    ['failed', 1],
    ['cancelled', 130],
  ])('exit code of a %s run is %i', (state, code) => expect(exitCodeOf(state)).toBe(code));
});
