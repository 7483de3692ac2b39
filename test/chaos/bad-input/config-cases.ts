/** Run configs POST /runs must refuse: the config, its model spec and its dataset, each naming the path. */
import type { HttpCase, HttpCaseContext } from './http-cases';
import { patch, type Json } from './patch';

export function configCases({ xor, files, file }: Omit<HttpCaseContext, 'trainedRun'>): HttpCase[] {
  const model = xor.model as Json;
  const layer0 = { units: 8, activation: 'tanh' };
  const out1 = { units: 1, activation: 'identity' };
  const xorSource = (changes: Json) => ({ type: 'synthetic', name: 'xor', seed: 1, task: 'regression', ...changes });
  const classify = (source: Json) => ({
    'dataset.source': source,
    model: { ...model, layers: [layer0, { units: 2, activation: 'softmax' }], loss: 'softmax_cross_entropy' },
    batchSize: 1,
    shards: 1,
  });
  const csv = (path: string, changes: Json = {}) =>
    classify({ type: 'csv', path, labelColumns: ['y'], task: 'classification', ...changes });
  const idx = (images: string, labels: string) => classify({ type: 'idx', images: file(images), labels: file(labels) });

  return [
    // --- run configs
    {
      name: 'missing name',
      body: patch(xor, { name: undefined }),
      status: 400,
      message: /^name: Invalid input: expected string, received undefined$/,
    },
    {
      name: 'name of the wrong type',
      body: patch(xor, { name: 7 }),
      status: 400,
      message: /^name: Invalid input: expected string, received number$/,
    },
    {
      name: 'name with control characters',
      body: patch(xor, { name: 'x\u0007\ny' }),
      status: 400,
      message: /^name: must be printable text: U\+0007 at character 1 is a control character$/,
    },
    {
      name: 'name of 101 characters',
      body: patch(xor, { name: 'n'.repeat(101) }),
      status: 400,
      message: /^name: must be at most 100 characters$/,
    },
    {
      name: 'negative rate (lr -1)',
      body: patch(xor, { 'optimizer.lr': -1 }),
      status: 400,
      message: /^optimizer\.lr: must be greater than 0/,
    },
    {
      name: 'zero rate',
      body: patch(xor, { 'optimizer.lr': 0 }),
      status: 400,
      message: /^optimizer\.lr: must be greater than 0/,
    },
    {
      name: 'rate as a string (lr "0.1")',
      body: patch(xor, { 'optimizer.lr': '0.1' }),
      status: 400,
      message: /^optimizer\.lr: Invalid input: expected number, received string$/,
    },
    {
      name: 'NaN rate (serialised as null)',
      body: patch(xor, { 'optimizer.lr': NaN }),
      status: 400,
      message: /^optimizer\.lr: Invalid input: expected number, received null$/,
    },
    {
      name: 'unknown optimizer',
      body: patch(xor, { 'optimizer.type': 'adamax' }),
      status: 400,
      message: /^optimizer\.type: Invalid discriminator value\. Expected 'sgd' \| .*'adam'/,
    },
    {
      name: 'unknown schedule',
      body: patch(xor, { schedule: { type: 'cyclic' } }),
      status: 400,
      message: /^schedule\.type: /,
    },
    {
      name: 'unknown onNonFinite',
      body: patch(xor, { onNonFinite: 'ignore' }),
      status: 400,
      message: /^onNonFinite: Invalid option: expected one of "fail"\|"skip"$/,
    },
    {
      name: 'unknown top-level key',
      body: patch(xor, { learningRate: 0.1 }),
      status: 400,
      message: /^\(root\): Unrecognized key: "learningRate"$/,
    },
    { name: 'negative seed', body: patch(xor, { seed: -1 }), status: 400, message: /^seed: must be at least 0$/ },
    {
      name: 'fractional batchSize',
      body: patch(xor, { batchSize: 2.5 }),
      status: 400,
      message: /^batchSize: must be an integer$/,
    },
    {
      name: 'huge batchSize (10^9)',
      body: patch(xor, { batchSize: 1e9 }),
      status: 400,
      message: /^batchSize: must be at most 1048576$/,
    },
    {
      name: 'shards > batchSize',
      body: patch(xor, { shards: 32 }),
      status: 400,
      message: /^shards: must not exceed batchSize \(16\)$/,
    },
    {
      name: 'epochs and steps both',
      body: patch(xor, { epochs: 2 }),
      status: 400,
      message: /^epochs: give exactly one of epochs and steps$/,
    },
    {
      name: 'neither epochs nor steps',
      body: patch(xor, { steps: undefined }),
      status: 400,
      message: /^epochs: give exactly one of epochs and steps$/,
    },
    {
      name: 'validation fraction 1',
      body: patch(xor, { 'dataset.validation': 1 }),
      status: 400,
      message: /^dataset\.validation: must be below 1$/,
    },
    {
      name: 'batchSize > train rows',
      body: patch(xor, { 'dataset.source': xorSource({ n: 40 }), batchSize: 64 }),
      status: 400,
      message: /^batchSize: batchSize 64 exceeds the 40 rows of the train split$/,
    },
    // --- model specs
    {
      name: 'model missing',
      body: patch(xor, { model: undefined }),
      status: 400,
      message: /^model: Invalid input: expected object, received undefined$/,
    },
    {
      name: 'unknown activation',
      body: patch(xor, { 'model.layers': [{ units: 8, activation: 'swish' }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.activation: Invalid option: expected one of "identity"\|/,
    },
    {
      name: 'unknown loss',
      body: patch(xor, { 'model.loss': 'l1' }),
      status: 400,
      message: /^model\.loss: Invalid option: expected one of "sum_of_squares"\|/,
    },
    {
      name: 'zero units',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 0 }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.units: must be at least 1$/,
    },
    {
      name: 'units 10^7',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 1e7 }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.units: must be at most 1048576$/,
    },
    {
      name: '65 layers',
      body: patch(xor, { 'model.layers': [...Array.from({ length: 64 }, () => layer0), out1] }),
      status: 400,
      message: /^model\.layers: must hold at most 64 layers$/,
    },
    {
      name: 'huge parameter count (two layers of 2^20 units)',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 1 << 20 }, { ...layer0, units: 1 << 20 }, out1] }),
      status: 400,
      message: /^model\.layers: the network has 1099516870657 parameters, at most 67108864 are allowed$/,
    },
    {
      name: 'mask of the wrong shape',
      body: patch(xor, { 'model.layers': [{ ...layer0, mask: [[1, 1]] }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.mask: mask must have shape \[2\]\[8\] \(fanIn x units\)$/,
    },
    {
      name: 'mask entry 2',
      body: patch(xor, { 'model.layers': [{ ...layer0, units: 1, mask: [[1], [2]] }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.mask\[1\]\[0\]: must be 0 or 1$/,
    },
    {
      name: 'skip to a missing layer',
      body: patch(xor, { 'model.skips': [{ from: 2, to: 4, mode: 'concat' }] }),
      status: 400,
      message: /^model\.skips\[0\]\.to: skip to missing layer 4 \(the network has layers 1\.\.2\)$/,
    },
    {
      name: 'softmax on a hidden layer',
      body: patch(xor, { 'model.layers': [{ units: 8, activation: 'softmax' }, out1] }),
      status: 400,
      message: /^model\.layers\[0\]\.activation: softmax is allowed on the output layer only$/,
    },
    {
      name: 'cross-entropy without softmax output',
      body: patch(xor, { 'model.loss': 'softmax_cross_entropy' }),
      status: 400,
      message: /^model\.layers\[1\]\.activation: softmax_cross_entropy needs a softmax output layer \(got identity\)$/,
    },
    {
      name: 'inputSize not matching the dataset',
      body: patch(xor, { 'dataset.source': xorSource({ n: 60 }), 'model.inputSize': 3 }),
      status: 400,
      message: /^model\.inputSize: is 3, the dataset has 2 features per row$/,
    },
    {
      name: 'output units not matching the classes',
      body: patch(xor, {
        'dataset.source': { type: 'synthetic', name: 'spirals', n: 50, seed: 3 },
        model: { ...model, layers: [layer0, { units: 3, activation: 'softmax' }], loss: 'softmax_cross_entropy' },
      }),
      status: 400,
      message:
        /^model\.layers\[1\]\.units: the output layer has 3 units, the dataset's targets are 2 wide \(2 classes\)$/,
    },
    {
      name: 'classification loss on a regression dataset',
      body: patch(xor, {
        'dataset.source': xorSource({ n: 44 }),
        'model.layers': [layer0, { units: 1, activation: 'sigmoid' }],
        'model.loss': 'sigmoid_binary_cross_entropy',
      }),
      status: 400,
      message: /^model\.loss: sigmoid_binary_cross_entropy needs a classification dataset, this one is regression$/,
    },
    // --- datasets
    {
      name: 'unknown source type',
      body: patch(xor, { 'dataset.source': { type: 'parquet', path: '/x' } }),
      status: 400,
      message: /^dataset\.source\.type: Invalid discriminator value\. Expected 'synthetic' \| 'csv'/,
    },
    {
      name: 'unknown synthetic set',
      body: patch(xor, { 'dataset.source': xorSource({ name: 'moons' }) }),
      status: 400,
      message: /^dataset\.source\.name: Invalid discriminator value/,
    },
    {
      name: 'negative row count',
      body: patch(xor, { 'dataset.source': xorSource({ n: -5 }) }),
      status: 400,
      message: /^dataset\.source\.n: must be at least 1$/,
    },
    {
      name: 'huge synthetic set (10^7 rows x 1024 features)',
      body: patch(xor, { 'dataset.source': { type: 'synthetic', name: 'blobs', n: 1e7, features: 1024 } }),
      status: 400,
      message: /^dataset\.source\.n: 10000000 rows x 1024 features are more than 67108864 values$/,
    },
    {
      name: 'both source and id',
      body: patch(xor, { 'dataset.id': 'a'.repeat(64) }),
      status: 400,
      message: /^dataset\.source: give exactly one of source and id$/,
    },
    {
      name: 'neither source nor id',
      body: patch(xor, { 'dataset.source': undefined }),
      status: 400,
      message: /^dataset\.source: give exactly one of source and id$/,
    },
    {
      name: 'malformed dataset id',
      body: patch(xor, { dataset: { id: 'abc' } }),
      status: 400,
      message: /^dataset\.id: must be a sha256 hex id$/,
    },
    {
      name: 'unregistered dataset id',
      body: patch(xor, { dataset: { id: 'b'.repeat(64) } }),
      status: 400,
      message: new RegExp(`^dataset\\.id: .*${'b'.repeat(64)}.* is not registered`),
    },
    {
      name: 'CSV file that does not exist',
      body: patch(xor, csv(file('missing.csv'))),
      status: 400,
      message: /^dataset: \/.*\/missing\.csv: cannot read: no such file$/,
    },
    {
      name: 'CSV path that is a directory',
      body: patch(xor, csv(files)),
      status: 400,
      message: /^dataset: \/.*\/files: cannot read: is a directory$/,
    },
    {
      name: 'CSV with a ragged row',
      body: patch(xor, csv(file('ragged.csv'))),
      status: 400,
      message: /^dataset: \/.*\/ragged\.csv:3(:\d+)?: ragged row: 2 fields, the header has 3$/,
    },
    {
      name: 'CSV with a non-numeric cell',
      body: patch(xor, csv(file('nonnum.csv'))),
      status: 400,
      message: /^dataset: \/.*\/nonnum\.csv:3:3: non-numeric cell "abc" in column "x2"$/,
    },
    {
      name: 'CSV with an unknown label column',
      body: patch(xor, csv(file('good.csv'), { labelColumns: ['target'] })),
      status: 400,
      message: /^dataset: \/.*\/good\.csv:1(:\d+)?: unknown label column "target" \(the header has: x1, x2, y\)$/,
    },
    {
      name: 'empty CSV',
      body: patch(xor, csv(file('empty.csv'))),
      status: 400,
      message: /^dataset: \/.*\/empty\.csv at byte 0: empty file$/,
    },
    {
      name: 'JSON records with a missing field',
      body: patch(xor, csv(file('ragged.json'), { type: 'json' })),
      status: 400,
      message: /^dataset: \/.*\/ragged\.json:2:\d+: ragged record 1: missing field "x2"$/,
    },
    {
      name: 'IDX with a wrong magic',
      body: patch(xor, idx('badmagic.idx', 'labels.idx')),
      status: 400,
      message:
        /^dataset: \/.*\/badmagic\.idx at byte 0: wrong IDX magic number 0x08080802: the first two bytes must be zero$/,
    },
    {
      name: 'truncated gzip',
      body: patch(xor, idx('images.idx', 'truncated.idx.gz')),
      status: 400,
      message: /^dataset: \/.*\/truncated\.idx\.gz at byte \d+: truncated gzip stream/,
    },
  ];
}
