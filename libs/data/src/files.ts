import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from './errors';

/** Read a whole source file; a missing or unreadable file is a DataError naming it. */
export function readSourceFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new DataError(file, `cannot read: ${why}`);
  }
}

/** gzip streams start with 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Inflate gzip bytes, naming the file and byte offset when the stream is truncated or corrupt. */
export function gunzipFile(bytes: Buffer, file: string): Buffer {
  try {
    return gunzipSync(bytes);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'Z_BUF_ERROR') {
      throw new DataError(file, `truncated gzip stream (${e.message} after ${bytes.length} compressed bytes)`, {
        byteOffset: bytes.length,
      });
    }
    throw new DataError(file, `corrupt gzip stream: ${e.message}`);
  }
}
