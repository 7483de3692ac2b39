import { freePort } from '@nnq/launch';
import { join } from 'node:path';

/**
 * The environment of `nnq` runs that embed a local cluster: Redis at `redisUrl` under `prefix`,
 * datasets under `dir`/data, and no coordinator answering at NNQ_URL (a free port).
 */
export async function localClusterEnv(redisUrl: string, prefix: string, dir: string): Promise<NodeJS.ProcessEnv> {
  return {
    REDIS_URL: redisUrl,
    NNQ_PREFIX: prefix,
    NNQ_DATA_DIR: join(dir, 'data'),
    // no coordinator answers here: nnq embeds a local cluster
    NNQ_URL: `http://127.0.0.1:${await freePort()}`,
  };
}
