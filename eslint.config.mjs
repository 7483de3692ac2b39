import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The fences (issue #22): which lib may import which, after /work/shared/design/ARCHITECTURE.md's arrows
// (apps -> libs, never app -> app; nn imports no framework and of the project only @nnq/problems, the shape
// of a refusal; engine-onnx -> nn; training imports no framework and no engine) and what the code imports
// today. README.md's Layout table and each libs/*/README.md say the same in words: change them together.
const LIBS = [
  'nn',
  'engine-onnx',
  'data',
  'protocol',
  'training',
  'cluster',
  'exchange',
  'sweeps',
  'config',
  'launch',
  'problems',
];
const APPS = ['coordinator', 'worker', 'cli'];
const FRAMEWORKS = ['@nestjs/*', 'bullmq', 'ioredis', 'prom-client', 'onnxruntime-node'];

// Each lib: the @nnq libs and the frameworks it may import; every other @nnq lib and framework is refused.
const MAY_IMPORT = {
  // nn imports nothing of the project but the shape of a refusal (@nnq/problems: zod issues by path)
  nn: { libs: ['problems'], frameworks: [] },
  'engine-onnx': { libs: ['nn'], frameworks: ['onnxruntime-node'] },
  data: { libs: ['nn', 'protocol', 'problems'], frameworks: ['ioredis'] },
  protocol: { libs: [], frameworks: ['bullmq'] },
  training: { libs: ['nn', 'data', 'protocol', 'problems'], frameworks: [] },
  cluster: { libs: ['protocol', 'config'], frameworks: ['@nestjs/*', 'ioredis', 'prom-client', 'bullmq'] },
  exchange: { libs: ['nn', 'protocol', 'training'], frameworks: ['ioredis', 'bullmq'] },
  sweeps: { libs: ['nn', 'protocol', 'training', 'problems'], frameworks: [] },
  config: { libs: ['problems'], frameworks: ['ioredis'] },
  problems: { libs: [], frameworks: [] },
  launch: { libs: ['config'], frameworks: ['ioredis'] },
};

// A lib reaches another lib through its @nnq name only, never by a relative path into libs/ or apps/.
const NO_RELATIVE_REACH = {
  group: ['**/libs/**', '**/apps/**', '**/src', '**/src/**'],
  message: 'import another lib by its @nnq/<lib> name (an app: never), not by a relative path.',
};

function libFence(lib, extra = {}) {
  const allowed = MAY_IMPORT[lib];
  const libs = LIBS.filter((l) => l !== lib && !allowed.libs.includes(l) && !(extra.libs ?? []).includes(l));
  const frameworks = FRAMEWORKS.filter((f) => !allowed.frameworks.includes(f));
  const may = allowed.libs.length ? allowed.libs.map((l) => `@nnq/${l}`).join(', ') : 'no other @nnq lib';
  const patterns = [
    {
      group: [...libs, ...APPS].map((l) => `@nnq/${l}`),
      message: `libs/${lib} may import ${may} (README.md, Layout).`,
    },
    NO_RELATIVE_REACH,
  ];
  if (frameworks.length) {
    patterns.push({
      group: frameworks,
      message: `libs/${lib} does not import ${frameworks.join(', ')} (README.md, Layout).`,
    });
  }
  return { 'no-restricted-imports': ['error', { patterns }] };
}

const libBlocks = LIBS.map((lib) => ({ files: [`libs/${lib}/**/*.ts`], rules: libFence(lib) }));

// Apps import libs, never another app (by relative path or by name).
// The CLI loads no Nest (issue #22): the environment's config is @nnq/config and the redis-server launcher
// @nnq/launch; @nnq/cluster (the apps' Nest module) is refused, statically or as import().
const CLI_NO_NEST = 'apps/cli loads no Nest: the config is @nnq/config, the launcher @nnq/launch, not @nnq/cluster.';

const appBlocks = APPS.map((app) => {
  const others = APPS.filter((a) => a !== app);
  const group = others
    .flatMap((a) => [`@nnq/${a}`, `**/apps/${a}/**`, `**/${a}/src`, `**/${a}/src/**`])
    .concat('**/libs/**');
  const patterns = [
    { group, message: `apps/${app} imports no other app (${others.join(', ')}), and libs by @nnq/<lib> only.` },
  ];
  if (app !== 'cli')
    return { files: [`apps/${app}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
  const dynamic = { selector: "ImportExpression[source.value='@nnq/cluster']", message: CLI_NO_NEST };
  return {
    files: [`apps/${app}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [...patterns, { group: ['@nnq/cluster'], message: CLI_NO_NEST }] },
      ],
      'no-restricted-syntax': ['error', dynamic],
    },
  };
});

// bench/ measures the libs as a user of them would: through their @nnq names, no app internals.
const BENCH_FENCE = {
  group: ['**/libs/**', '**/apps/**'],
  message: 'bench/ imports libs by their @nnq/<lib> names only, and no app internals.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...libBlocks,
  ...appBlocks,
  { files: ['bench/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [BENCH_FENCE] }] } },
);
