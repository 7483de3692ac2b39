import { parseDataRoots, type DatasetSource } from '@nnq/data';
import { resolve } from 'node:path';

/**
 * NNQ_DATA_ROOTS for the embedded cluster `nnq train` / `nnq sweep` start for one config: the
 * defaults plus exactly the files (a Fashion-MNIST dir: that dir) the config's dataset source
 * names, so the user's own data trains as before without opening their working directory to
 * whatever else reaches that coordinator. An NNQ_DATA_ROOTS the user set is left as it is.
 */
export function embeddedDataRoots(
  source: DatasetSource | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Record<string, string> {
  if (env.NNQ_DATA_ROOTS?.trim() || !source) return {};
  const named =
    source.type === 'csv' || source.type === 'json'
      ? [source.path]
      : source.type === 'idx'
        ? [source.images, source.labels]
        : source.type === 'fashion-mnist'
          ? [source.dir]
          : [];
  // a path with ':' cannot be listed; the coordinator then refuses it, naming the roots
  const extra = named.map((p) => resolve(cwd, p)).filter((p) => !p.includes(':'));
  if (extra.length === 0) return {};
  const roots = [...parseDataRoots(undefined, env.NNQ_DATA_DIR || '.nnq', cwd), ...extra];
  return { NNQ_DATA_ROOTS: [...new Set(roots)].join(':') };
}
