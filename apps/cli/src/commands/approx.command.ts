import type { Activation } from '@nnq/nn';
import type { Command } from 'commander';
import { approximate, TARGET_NAMES, type ApproxOptions, type TargetName } from '../lecture/approx';
import { fmt, intIn, intList, oneOf, positiveAtMost } from '../lecture/options';
import { linePlot } from '../lecture/svg-plot';
import { writeOutputFile } from '../output-file';

const HIDDEN_ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid'];

/** The lecture's options but the target (an argument), and where the picture goes. */
type ApproxOpts = Omit<ApproxOptions, 'target'> & { svg?: string };

/**
 * `nnq approx <sin|abs|step>`: universal approximation, measured. Fits one hidden layer of 1, 2,
 * 4, ..., 64 units to the function on a grid of [-1, 1], prints the error against the unit count
 * and draws the target and the fits in an SVG file.
 */
export function registerApprox(program: Command): void {
  program
    .command('approx')
    .description('fit a 1-D function with one hidden layer of growing width: error per unit count, and an SVG')
    .argument('<function>', `the target on [-1, 1]: ${TARGET_NAMES.join(', ')} (sin is sin(pi x))`)
    .option('--units <list>', 'hidden layer widths', intList('--units', 12, 1024), [1, 2, 4, 8, 16, 32, 64])
    .option('--activation <f>', 'hidden activation', oneOf('--activation', HIDDEN_ACTIVATIONS), 'relu')
    .option('--points <n>', 'grid points on [-1, 1]', intIn('--points', 2, 10_000), 101)
    .option('--steps <n>', 'full-batch Adam steps per width', intIn('--steps', 1, 100_000), 5000)
    .option('--lr <rate>', 'Adam learning rate', positiveAtMost('--lr', 1), 0.01)
    .option('--seed <n>', 'seed of the initial weights', intIn('--seed', 0, 0xffffffff), 1)
    .option('--svg <file>', 'write the target and the fits as an SVG picture (default ./approx-<function>.svg)')
    .action((fn: string, opts: ApproxOpts) => {
      const target = oneOf('<function>', TARGET_NAMES)(fn) as TargetName;
      process.stdout.write(
        `${target} on [-1, 1], ${opts.points} points; one hidden layer of ${opts.activation} units, ` +
          `sum of squares, ${opts.steps} full-batch Adam steps (lr ${opts.lr}, seed ${opts.seed})\n` +
          `${'units'.padStart(6)}  ${'max |error|'.padStart(12)}  ${'rms error'.padStart(10)}\n`,
      );
      const result = approximate({ target, ...opts }, (f) =>
        process.stdout.write(
          `${String(f.units).padStart(6)}  ${fmt(f.maxError, 4).padStart(12)}  ${fmt(f.rmsError, 4).padStart(10)}\n`,
        ),
      );
      const svg = linePlot(
        `${target}: one hidden layer of ${opts.activation} units`,
        result.x,
        { label: target, y: result.y },
        result.fits.map((f) => ({ label: `${f.units} unit${f.units === 1 ? '' : 's'}`, y: f.outputs })),
      );
      const out = opts.svg ?? `./approx-${target}.svg`;
      writeOutputFile(out, svg, `the picture to ${out}`);
      process.stdout.write(`picture written to ${out}\n`);
    });
}
