import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { UserError } from '../util/errors';

/**
 * Writes `path` so that it either keeps its old content or has all of the new: the data goes
 * to `path.tmp-<pid>` in the same folder (so the rename stays on one file system) and is
 * renamed over `path`.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new UserError(`cannot write ${path}: ${describeFsError(error)}`);
  }
}

/** The bytes of a network file, with a one-line error when it cannot be read. */
export async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    // A plain view, so that slices taken from it are copies as for any Uint8Array.
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw new UserError(`cannot read ${path}: ${describeFsError(error)}`);
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return (error as Error).message;
  }
}
