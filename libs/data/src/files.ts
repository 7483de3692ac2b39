import { gunzipSync } from 'node:zlib';
import { DataError } from './errors';
import { formatBytes } from './file-access';

/** gzip streams start with 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflate gzip bytes, at most `maxBytes` of them (a small file may inflate to gigabytes), naming
 * the file and byte offset when the stream is truncated or corrupt.
 */
export function gunzipFile(bytes: Buffer, file: string, maxBytes: number): Buffer {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(file, `inflates to more than NNQ_MAX_DATASET_BYTES (${formatBytes(maxBytes)})`);
    }
    if (e.code === 'Z_BUF_ERROR') {
      throw new DataError(file, `truncated gzip stream (${e.message} after ${bytes.length} compressed bytes)`, {
        byteOffset: bytes.length,
      });
    }
    throw new DataError(file, `corrupt gzip stream: ${e.message}`);
  }
}
