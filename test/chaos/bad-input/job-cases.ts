/** Forged shard-job payloads bad-input.e2e.ts queues, each with the failure reason it must get. */

export interface JobCase {
  name: string;
  data: unknown;
  failedReason: RegExp;
}

/** Cases against `forgedRun`, a run whose manifest and splits the test put in Redis. */
export function jobCases(forgedRun: string): JobCase[] {
  const gradient = {
    kind: 'gradient',
    runId: forgedRun,
    step: 0,
    shard: 0,
    shards: 2,
    version: 0,
    epoch: 0,
    start: 0,
    end: 8,
  };
  const evaluate = {
    kind: 'evaluate',
    runId: forgedRun,
    evalId: 'validation-0',
    split: 'validation',
    shard: 0,
    version: 0,
    start: 0,
    end: 4,
  };
  return [
    {
      name: 'wrong kind',
      data: { ...gradient, kind: 'backward' },
      failedReason:
        /: invalid payload: kind: Invalid discriminator value\. Expected 'gradient' \| 'evaluate' \| 'reduce'$/,
    },
    {
      name: 'no kind',
      data: { ...gradient, kind: undefined },
      failedReason: /: invalid payload: kind: Invalid discriminator value/,
    },
    {
      name: 'missing field',
      data: { ...gradient, start: undefined },
      failedReason: /: invalid payload: start: Invalid input: expected number, received undefined$/,
    },
    {
      name: 'not an object',
      data: 'gradient',
      failedReason: /: invalid payload: \(root\): Invalid input: expected object, received string$/,
    },
    {
      name: 'wrong type',
      data: { ...gradient, step: '0' },
      failedReason: /: invalid payload: step: Invalid input: expected number, received string$/,
    },
    {
      name: 'negative range',
      data: { ...gradient, start: -8, end: -1 },
      failedReason: /: invalid payload: start: must be at least 0; end: must be at least 0$/,
    },
    {
      name: 'empty range',
      data: { ...gradient, start: 8, end: 8 },
      failedReason: /: invalid payload: end: end must be greater than start$/,
    },
    {
      name: 'run id with a colon',
      data: { ...gradient, runId: 'a:b' },
      failedReason: /: invalid payload: runId: must be 1-64 characters of \[A-Za-z0-9_-\]$/,
    },
    {
      name: 'unknown key',
      data: { ...gradient, tensor: [1, 2, 3] },
      failedReason: /: invalid payload: \(root\): Unrecognized key: "tensor"$/,
    },
    {
      name: 'shard index not below shards',
      data: { ...gradient, shard: 1e12 },
      failedReason: /: invalid payload: shard: shard must be below shards$/,
    },
    {
      name: 'run id that does not exist',
      data: { ...gradient, runId: 'nosuchrun' },
      failedReason: /^run nosuchrun has no manifest in Redis \(finished, cancelled or unknown\)$/,
    },
    {
      name: 'end beyond the split',
      data: { ...gradient, start: 0, end: 1e6 },
      failedReason: new RegExp(`^job ${forgedRun}-0-0: range or shard count does not fit run ${forgedRun}$`),
    },
    {
      name: 'huge shard index',
      data: { ...gradient, shard: 1e9, shards: 1e9 + 1 },
      failedReason: new RegExp(`^job ${forgedRun}-0-1000000000: range or shard count does not fit run ${forgedRun}$`),
    },
    {
      // a gradient job is the one its run's plan has for its step and shard (plan-check.ts)
      name: 'parameter version other than the step',
      data: { ...gradient, version: 99 },
      failedReason: new RegExp(
        `^job [^:]+: not in the run plan of run ${forgedRun} \\(step 0, shard 0\\): version is 99, the plan says 0; its id does not name run ${forgedRun} step 0 shard 0$`,
      ),
    },
    {
      name: 'evaluation range beyond its split',
      data: { ...evaluate, end: 999 },
      failedReason: /^evaluation range \[0, 999\) exceeds the validation split$/,
    },
    {
      name: 'malformed evaluation id',
      data: { ...evaluate, evalId: 'x-1' },
      failedReason: /: invalid payload: evalId: must be <split>-<version>$/,
    },
  ];
}
