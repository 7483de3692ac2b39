import { FASHION_MNIST_DIR, FASHION_MNIST_FILES } from '@nnq/data';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The tools outside npm some suites need, and the Debian package each comes from (`.ci/run`
 * installs every one of them). A suite asks `hasTool(name)` at load time: outside CI a missing
 * tool skips the suite and says so once; with CI set a missing tool throws, failing the run by
 * name, so a CI machine that lacks it cannot pass by skipping.
 */

/** The browser the dashboard suites drive (playwright-core with Debian's chromium). */
export const CHROMIUM = '/usr/bin/chromium';
/** Debian's python3-onnx: ONNX's own checker, run on the models nnq exports (/usr/bin/python3). */
export const PYTHON_ONNX = '/usr/lib/python3/dist-packages/onnx/__init__.py';
/** One of Debian's dataset-fashion-mnist files, where libs/data reads them. */
const FASHION_MNIST_TRAIN_IMAGES = join(FASHION_MNIST_DIR, FASHION_MNIST_FILES.train.images);

const onPath = (bin: string) => (): boolean =>
  spawnSync('sh', ['-c', 'command -v "$0"', bin], { stdio: 'ignore' }).status === 0;

/** Each tool: what is looked for, how, and the Debian package that brings it. */
export const TOOLS = {
  chromium: { looksFor: CHROMIUM, present: () => existsSync(CHROMIUM), pkg: 'chromium' },
  prometheus: { looksFor: 'prometheus on PATH', present: onPath('prometheus'), pkg: 'prometheus' },
  promtool: { looksFor: 'promtool on PATH', present: onPath('promtool'), pkg: 'prometheus' },
  'redis-server': { looksFor: 'redis-server on PATH', present: onPath('redis-server'), pkg: 'redis-server' },
  'redis-cli': { looksFor: 'redis-cli on PATH', present: onPath('redis-cli'), pkg: 'redis-tools' },
  'python3-onnx': { looksFor: PYTHON_ONNX, present: () => existsSync(PYTHON_ONNX), pkg: 'python3-onnx' },
  'fashion-mnist': {
    looksFor: FASHION_MNIST_TRAIN_IMAGES,
    present: () => existsSync(FASHION_MNIST_TRAIN_IMAGES),
    pkg: 'dataset-fashion-mnist',
  },
} as const;

export type ToolName = keyof typeof TOOLS;

/** CI as CI services set it (CI=true, CI=1); unset, empty, 0 and false are not CI. */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

/**
 * True when `name` is here. When it is missing: under CI, throws "CI=true but <tool> is missing:
 * .ci/run must install <package>"; otherwise warns once that `suite` is skipped and returns false.
 */
export function hasTool(
  name: ToolName,
  suite: string,
  env: NodeJS.ProcessEnv = process.env,
  present: () => boolean = TOOLS[name].present,
): boolean {
  if (present()) return true;
  const { looksFor, pkg } = TOOLS[name];
  if (isCi(env)) {
    throw new Error(`CI=${env.CI} but ${name} is missing: .ci/run must install ${pkg} (looked for ${looksFor})`);
  }
  console.warn(`skipping ${suite}: ${name} is missing (${looksFor}); apt-get install -y ${pkg}`);
  return false;
}
