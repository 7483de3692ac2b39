import { paramLayout, writeModel, type NetworkSpec } from '@nnq/nn';
import type { Command } from 'commander';
import { layerLabel } from '../layer-trace';
import { writeModelFile } from '../model-output';
import { fitFullBatch, maxError } from '../lecture/full-batch';
import { fmt, intIn, intList, positiveAtMost } from '../lecture/options';
import { linearSpec, XOR_INPUTS, XOR_LECTURE_PARAMS, XOR_TARGETS, xorBatch, xorSpec } from '../lecture/xor';

/** A seed's fit counts as a solution when every output is within this of its XOR target. */
export const SOLVED_WITHIN = 0.1;

/**
 * `nnq lecture <part>`: the lecture's XOR example, each part printing what the lecture states
 * (examples/lecture/README.md walks them). Everything runs in this process.
 */
export function registerLecture(program: Command): void {
  const lecture = program
    .command('lecture')
    .description("the lecture's XOR example, step by step (examples/lecture/README.md)");

  lecture
    .command('xor-model')
    .description("write the lecture's XOR network (W = [[1,1],[1,1]], c = [0,-1], w = [1,-2], b = 0) as a model file")
    .option('--out <file>', 'where to write it', './xor-lecture.safetensors')
    .action((opts: { out: string }) => {
      const bytes = writeModel({ spec: xorSpec(), params: XOR_LECTURE_PARAMS, extra: { name: 'xor-lecture' } });
      const path = writeModelFile(opts.out, 'xor-lecture', 'lecture', bytes);
      process.stdout.write(`${describeParams(xorSpec(), XOR_LECTURE_PARAMS)}\nmodel written to ${path}\n`);
    });

  lecture
    .command('linear')
    .description('fit the linear model f(x) = w^T x + b to XOR under the sum of squares, by gradient descent')
    .option('--steps <n>', 'full-batch gradient steps', intIn('--steps', 1, 100_000), 1000)
    .option('--lr <rate>', 'learning rate', positiveAtMost('--lr', 0.25), 0.1)
    .option('--seed <n>', 'seed of the initial weights', intIn('--seed', 0, 0xffffffff), 1)
    .action((opts: { steps: number; lr: number; seed: number }) => {
      const spec = linearSpec();
      const r = fitFullBatch(spec, xorBatch(), {
        seed: opts.seed,
        steps: opts.steps,
        optimizer: { type: 'sgd', lr: opts.lr },
      });
      const [w1, w2, b] = r.params;
      const inputs = XOR_INPUTS.map((x) => `(${x.join(',')})`).join(' ');
      const descent = `${opts.steps} steps of gradient descent (lr ${opts.lr}, seed ${opts.seed})`;
      const lines = [
        `linear model on XOR, sum of squares, ${descent}:`,
        `  w = (${fmt(w1, 4)}, ${fmt(w2, 4)})  b = ${fmt(b, 4)}`,
        `  f(x) for ${inputs}: ${Array.from(r.outputs, (v) => fmt(v, 4)).join(', ')}`,
        // the lecture's J sums over the four points; nnq's loss figures are means per row
        `  J = 1/2 sum over the 4 points of (f*(x) - f(x))^2 = ${fmt(r.loss, 4)}  (the lecture's J)`,
        `  nnq prints the mean per row, J / 4 = ${fmt(r.loss / 4, 4)}  (loss in nnq train, status and the dashboard)`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  lecture
    .command('seeds')
    .description('train the 2-2-1 ReLU network on XOR from many random starts: how many find a solution')
    .option('--seeds <n>', 'random initialisations (seeds 1..n)', intIn('--seeds', 1, 1000), 20)
    .option('--units <list>', 'hidden layer widths to try', intList('--units', 8, 256), [2, 4, 8])
    .option('--steps <n>', 'full-batch gradient steps', intIn('--steps', 1, 100_000), 2000)
    .option('--lr <rate>', 'learning rate', positiveAtMost('--lr', 1), 0.05)
    .action((opts: { seeds: number; units: number[]; steps: number; lr: number }) => {
      const data = xorBatch();
      process.stdout.write(
        `XOR, 2-n-1 ReLU network, sum of squares, ${opts.steps} steps of gradient descent (lr ${opts.lr}); ` +
          `solved: every output within ${SOLVED_WITHIN} of its target\n`,
      );
      for (const units of opts.units) {
        const spec = xorSpec(units);
        let solved = 0;
        for (let seed = 1; seed <= opts.seeds; seed++) {
          const r = fitFullBatch(spec, data, { seed, steps: opts.steps, optimizer: { type: 'sgd', lr: opts.lr } });
          const ok = maxError(r.outputs, XOR_TARGETS) < SOLVED_WITHIN;
          if (ok) solved++;
          const outputs = Array.from(r.outputs, (v) => fmt(v, 3)).join(', ');
          process.stdout.write(
            `  units ${units} seed ${seed}: f = ${outputs}  J = ${fmt(r.loss, 4)}  ${ok ? 'solved' : 'stuck'}\n`,
          );
        }
        process.stdout.write(`units ${units}: ${solved}/${opts.seeds} seeds find a solution\n`);
      }
    });
}

/** Every layer's kernel and bias as the lecture names them (W, c for layer 1; w, b for the output). */
function describeParams(spec: NetworkSpec, params: Float32Array): string {
  return paramLayout(spec)
    .layers.map((l) => {
      const rows = Array.from({ length: l.fanIn }, (_, i) =>
        Array.from(params.subarray(l.kernelOffset + i * l.units, l.kernelOffset + (i + 1) * l.units)).join(','),
      );
      const bias = l.biasOffset >= 0 ? Array.from(params.subarray(l.biasOffset, l.biasOffset + l.biasSize)) : [];
      const act = layerLabel(spec.layers[l.index - 1]);
      return `layer ${l.index} (${act}): kernel [[${rows.join('],[')}]]  bias [${bias.join(',')}]`;
    })
    .join('\n');
}
