import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error';
import { loadModelFile } from '../model-file';
import { writeOutputFile } from '../output-file';

/**
 * `nnq export <model> --onnx out.onnx [--json [weights.json]]`: a model file for use outside nnq,
 * in this process. ONNX: the network with the run's preprocessing folded in, documented input and
 * output, metadata (nnq version, run id, spec); JSON: the weights as Keras-style named arrays.
 */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a model file as ONNX (preprocessing included) or as Keras-style JSON weights')
    .argument('<model>', 'model file (.safetensors) written by nnq train or GET /runs/:id/model')
    .option('--onnx <file>', 'write an ONNX model: input "input" [batch, features] raw, output "output" [batch, K]')
    .option('--json [file]', 'write the weights as named arrays (dense_n/kernel, dense_n/bias); no file: stdout')
    .action(async (modelPath: string, opts: { onnx?: string; json?: string | true }) => {
      if (!opts.onnx && !opts.json)
        throw new CliError('nnq export: say what to write: --onnx <file> and/or --json', EXIT.usage);
      const model = loadModelFile(modelPath);
      if (opts.onnx) {
        const { exportOnnxModel } = await import('@nnq/engine-onnx');
        const { onnxExportInputs } = await import('@nnq/training');
        const { nnqVersion } = await import('@nnq/config');
        const version = nnqVersion();
        const bytes = exportOnnxModel({
          ...onnxExportInputs(model, { nnqVersion: version }),
          producerVersion: version,
        });
        writeOutputFile(opts.onnx, bytes);
        const F = model.spec.inputSize;
        process.stderr.write(
          `nnq: wrote ${opts.onnx} (ONNX, input [batch, ${F}] raw features, ${bytes.length} bytes)\n`,
        );
      }
      if (opts.json) {
        const { kerasWeights } = await import('@nnq/training');
        const text = `${JSON.stringify(kerasWeights(model))}\n`;
        if (opts.json === true) process.stdout.write(text);
        else {
          writeOutputFile(opts.json, Buffer.from(text));
          process.stderr.write(`nnq: wrote ${opts.json} (Keras-style named weight arrays)\n`);
        }
      }
    });
}
