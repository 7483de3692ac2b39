import { flattenInputRow } from '@nnq/nn';
import { predictRows } from '@nnq/training';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from '../cli-error';
import { readTextFile } from '../config-file';
import { formatLayerTrace } from '../layer-trace';
import { loadModelFile } from '../model-file';
import { parsePredictInput } from '../predict-input';

/** `nnq predict <model> <input|->`: predictions of a model file, in this process (no cluster). */
export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict rows with a model file, in this process (no cluster needed)')
    .argument('<model>', 'model file (.safetensors) written by nnq train or GET /runs/:id/model')
    .argument(
      '<input>',
      'JSON {"inputs": [[...]]}, a JSON array of rows, or NDJSON rows (image models: flat or [h][w][c]); - reads stdin',
    )
    .option('--pretty', 'indent the JSON output')
    .option('--layers', "print every layer's values for each row (a = x W + b, h = f(a)) instead of JSON")
    .action((modelPath: string, input: string, opts: { pretty?: boolean; layers?: boolean }) => {
      const model = loadModelFile(modelPath);
      const source = input === '-' ? '<stdin>' : input;
      const text = input === '-' ? readStdin() : readTextFile(input, 'input');
      // an image model also takes rows nested [h][w][c] (flattened as training stored them)
      const spec = model.spec;
      const rows = parsePredictInput(text, source, spec.inputShape ? (row) => flattenInputRow(spec, row) : undefined);
      let prediction;
      try {
        prediction = predictRows(model, rows);
      } catch (err) {
        if (err instanceof RangeError) throw new CliError(`${source}: ${err.message}`, EXIT.usage);
        throw err;
      }
      if (opts.layers) {
        process.stdout.write(`${formatLayerTrace(model, rows, prediction)}\n`);
        return;
      }
      process.stdout.write(`${JSON.stringify(prediction, null, opts.pretty ? 2 : undefined)}\n`);
    });
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read stdin: ${(err as Error).message}`, EXIT.usage);
  }
}
