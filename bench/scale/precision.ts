/**
 * The accuracy effect of half-precision gradient transfer (run config gradientTransfer) on
 * Fashion-MNIST: examples/fashion-mnist.json trained in-process (trainLocal rounds each shard's
 * gradient exactly as the transfer does, so these are the cluster's weights) at float32, bfloat16
 * and float16. PRECISION_EPOCHS shortens the run (default: the example's 15 epochs).
 *
 *   npx swc bench/scale -d dist -q && node dist/bench/scale/precision.js
 *
 * Prints test accuracy and loss per precision and writes bench/results/precision.json.
 */
import { createTrainingEngine } from '@nnq/engine-onnx';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRunConfig, trainLocal } from '@nnq/training';
import { ROOT } from './processes';

async function main(): Promise<void> {
  const example = JSON.parse(readFileSync(join(ROOT, 'examples', 'fashion-mnist.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const epochs = Number(process.env.PRECISION_EPOCHS ?? example.epochs);
  const rows = [];
  for (const gradientTransfer of ['float32', 'bfloat16', 'float16']) {
    const started = performance.now();
    const r = await trainLocal(parseRunConfig({ ...example, epochs, checkpoint: { every: 0 }, gradientTransfer }), {
      engine: createTrainingEngine,
    });
    const test = r.evaluations.filter((e) => e.split === 'test').at(-1)!;
    const validation = r.evaluations.filter((e) => e.split === 'validation').at(-1)!;
    const row = {
      gradientTransfer,
      epochs,
      testAccuracy: test.accuracy,
      testLoss: test.loss,
      validationAccuracy: validation.accuracy,
      seconds: (performance.now() - started) / 1000,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'precision.json'),
    JSON.stringify({ date: new Date().toISOString(), rows }, null, 2),
  );
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
