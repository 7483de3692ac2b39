import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The import fences of eslint.config.mjs (issue #22): each case lints one line of source as if it
 * were the named file and expects the fence's message, or no finding when the import is allowed.
 */
const cases: Array<[file: string, source: string, refused: RegExp | null]> = [
  ['libs/nn/src/x.ts', "import '@nnq/protocol';", /libs\/nn may import @nnq\/problems \(/],
  ['libs/nn/src/x.ts', "import 'ioredis';", /libs\/nn does not import .*ioredis/],
  ['libs/nn/src/x.ts', "import 'zod';", null],
  ['libs/nn/src/x.ts', "import '@nnq/problems';", null],
  ['libs/problems/src/x.ts', "import 'zod';", null],
  ['libs/problems/src/x.ts', "import '@nnq/nn';", /libs\/problems may import no other @nnq lib/],
  ['libs/engine-onnx/src/x.ts', "import '@nnq/nn';", null],
  ['libs/engine-onnx/src/x.ts', "import 'onnxruntime-node';", null],
  ['libs/engine-onnx/src/x.ts', "import '@nnq/data';", /libs\/engine-onnx may import @nnq\/nn \(/],
  ['libs/data/src/x.ts', "import '@nnq/protocol';", null],
  ['libs/data/src/x.ts', "import 'ioredis';", null],
  ['libs/data/src/x.ts', "import '@nnq/training';", /libs\/data may import @nnq\/nn, @nnq\/protocol/],
  ['libs/data/src/x.ts', "import '../../protocol/src/keys';", /by its @nnq\/<lib> name/],
  ['libs/protocol/src/x.ts', "import 'bullmq';", null],
  ['libs/protocol/src/x.ts', "import '@nestjs/common';", /libs\/protocol does not import @nestjs\/\*/],
  ['libs/training/src/x.ts', "import '@nnq/data';", null],
  ['libs/training/src/x.ts', "import '@nnq/engine-onnx';", /libs\/training may import @nnq\/nn, @nnq\/data/],
  ['libs/training/src/x.ts', "import '../../../apps/worker/src/main';", /by its @nnq\/<lib> name/],
  [
    'libs/training/src/local-trainer.ts',
    "import '@nnq/engine-onnx';",
    /libs\/training may import @nnq\/nn, @nnq\/data/,
  ],
  ['libs/training/src/x.ts', "import '@nnq/sweeps';", /libs\/training may import @nnq\/nn, @nnq\/data/],
  ['libs/sweeps/src/x.ts', "import '@nnq/training';", null],
  [
    'libs/sweeps/src/x.ts',
    "import '@nnq/cluster';",
    /libs\/sweeps may import @nnq\/nn, @nnq\/protocol, @nnq\/training/,
  ],
  ['libs/sweeps/src/x.ts', "import 'ioredis';", /libs\/sweeps does not import .*ioredis/],
  ['libs/cluster/src/x.ts', "import '@nestjs/common';", null],
  ['libs/cluster/src/x.ts', "import '@nnq/config';", null],
  ['libs/config/src/x.ts', "import '@nestjs/common';", /libs\/config does not import @nestjs\/\*/],
  ['libs/config/src/x.ts', "import 'prom-client';", /libs\/config does not import .*prom-client/],
  ['libs/config/src/x.ts', "import '@nnq/cluster';", /libs\/config may import @nnq\/problems \(/],
  ['libs/launch/src/x.ts', "import '@nnq/config';", null],
  ['libs/launch/src/x.ts', "import '@nnq/cluster';", /libs\/launch may import @nnq\/config \(/],
  ['libs/launch/src/x.ts', "import '@nestjs/common';", /libs\/launch does not import @nestjs\/\*/],
  ['libs/cluster/src/x.ts', "import '@nnq/training';", /libs\/cluster may import @nnq\/protocol, @nnq\/config \(/],
  ['libs/cluster/src/x.ts', "import '@nnq/nn';", /libs\/cluster may import @nnq\/protocol, @nnq\/config \(/],
  ['apps/cli/src/x.ts', "import '@nnq/training';", null],
  ['apps/cli/src/x.ts', "import '@nnq/config';", null],
  ['apps/cli/src/x.ts', "import '@nnq/cluster';", /apps\/cli loads no Nest/],
  ['apps/cli/src/x.ts', "void import('@nnq/cluster');", /apps\/cli loads no Nest/],
  ['apps/worker/src/x.ts', "import '@nnq/cluster';", null],
  ['apps/cli/src/x.ts', "import '../../coordinator/src/x';", /apps\/cli imports no other app/],
  ['apps/worker/src/shards/x.ts', "import '../../../coordinator/src/x';", /apps\/worker imports no other app/],
  ['apps/coordinator/src/x.ts', "import '@nnq/worker';", /apps\/coordinator imports no other app/],
  ['bench/nn/x.ts', "import '@nnq/nn';", null],
  ['bench/nn/x.ts', "import '../../libs/nn/src';", /bench\/ imports libs by their @nnq\/<lib> names only/],
  ['bench/nn/x.ts', "import '../../apps/worker/src/shards/reduce';", /no app internals/],
  ['bench/scale/sim-worker.ts', "import '../../apps/worker/src/shards/shard.processor';", /no app internals/],
  ['bench/scale/sim-worker.ts', "import '@nnq/exchange';", null],
  ['libs/exchange/src/x.ts', "import '@nnq/training';", null],
  ['libs/exchange/src/x.ts', "import 'ioredis';", null],
  [
    'libs/exchange/src/x.ts',
    "import '@nnq/cluster';",
    /libs\/exchange may import @nnq\/nn, @nnq\/protocol, @nnq\/training/,
  ],
  ['libs/exchange/src/x.ts', "import '@nestjs/common';", /libs\/exchange does not import @nestjs\/\*/],
];

describe('eslint import fences', () => {
  let eslint: ESLint;
  beforeAll(() => {
    eslint = new ESLint();
  });

  it.each(cases)('%s: %s', async (file, source, refused) => {
    const [result] = await eslint.lintText(`${source}\n`, { filePath: file });
    // the fences: no-restricted-imports, and no-restricted-syntax for import() (the CLI's)
    const fence = (rule: string | null) => rule === 'no-restricted-imports' || rule === 'no-restricted-syntax';
    const found = result.messages.filter((m) => fence(m.ruleId)).map((m) => m.message);
    const other = result.messages.filter((m) => !fence(m.ruleId));
    expect(other).toEqual([]);
    if (refused) expect(found).toEqual([expect.stringMatching(refused)]);
    else expect(found).toEqual([]);
  });
});
