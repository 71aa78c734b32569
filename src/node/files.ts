import { constants, rmSync } from 'node:fs';
import { access, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../util/errors';

/** Temporary files of writes in flight, removed if the process is stopped by a signal. */
const pendingTempFiles = new Set<string>();

/** Removes the temporary files of unfinished writes (synchronously: for exit and signal handlers). */
export function removePendingTempFiles(): void {
  for (const file of pendingTempFiles) rmSync(file, { force: true });
  pendingTempFiles.clear();
}

/**
 * Writes `path` so that it either keeps its old content or has all of the new: the data goes
 * to `path.tmp-<pid>` in the same folder (so the rename stays on one file system) and is
 * renamed over `path`.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  pendingTempFiles.add(temporary);
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new UserError(`cannot write ${path}: ${describeFsError(error)}`);
  } finally {
    pendingTempFiles.delete(temporary);
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

/**
 * Fails with one line unless `path` can be written by `writeFileAtomic`: a name, in an existing
 * folder we may create files in, and not a folder itself. Checked before long work starts, so a
 * mistyped --out does not cost a training run.
 */
export async function checkWritable(path: string, what: string): Promise<void> {
  if (path.trim() === '') throw new UserError(`${what} is empty: give a file name`);
  const existing = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new UserError(`cannot write ${what} ${path}: ${describeFsError(error)}`);
  });
  if (existing?.isDirectory()) throw new UserError(`cannot write ${what} ${path}: it is a folder`);
  const folder = dirname(path);
  try {
    if (!(await stat(folder)).isDirectory()) throw new UserError(`cannot write ${what} ${path}: ${folder} is not a folder`);
    await access(folder, constants.W_OK);
    if (existing) await access(path, constants.W_OK);
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? `the folder ${folder} does not exist` : describeFsError(error);
    throw new UserError(`cannot write ${what} ${path}: ${reason}`);
  }
}
