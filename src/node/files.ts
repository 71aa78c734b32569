import { randomBytes } from 'node:crypto';
import { constants, rmSync, type Stats } from 'node:fs';
import { access, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../util/errors';
import { grouped } from '../util/format';

/** Temporary files of writes in flight, removed when the process exits or is stopped by a signal. */
const pendingTempFiles = new Set<string>();

/** Removes the temporary files of unfinished writes (synchronously: for exit and signal handlers). */
export function removePendingTempFiles(): void {
  for (const file of pendingTempFiles) rmSync(file, { force: true });
  pendingTempFiles.clear();
}

process.on('exit', removePendingTempFiles);

/**
 * Writes `path` so that it either keeps its old content or has all of the new: the data goes to
 * a new file beside it (so the rename stays on one file system), is flushed to the disk, and the
 * file is renamed over `path`. The temporary name cannot be guessed and is created exclusively,
 * so nothing put there in advance (a symlink to another file) is followed.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  // Known before it exists: an exit while open() runs must still remove it.
  pendingTempFiles.add(temporary);
  let created = false;
  try {
    const handle = await open(temporary, 'wx');
    created = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    // Not when open() failed: a file already at that name is not ours.
    if (created) await rm(temporary, { force: true });
    throw new UserError(`cannot write ${path}: ${describeFsError(error)}`);
  } finally {
    pendingTempFiles.delete(temporary);
  }
}

/** The largest network file we read: a checkpoint of the largest network allowed is under half of it. */
const MAX_MODEL_FILE_BYTES = 2 ** 31;

/** The bytes of a network file, with a one-line error when it cannot be read. */
export async function readModelFile(path: string): Promise<Uint8Array> {
  return readRegularFile(path, MAX_MODEL_FILE_BYTES);
}

/**
 * The bytes of `path`, which must be a regular file of at most `maxBytes`: a device such as
 * /dev/zero never ends and a FIFO blocks until someone writes to it. The file is opened without
 * blocking and checked through the open handle, so that it cannot be swapped between the check
 * and the read, and no more than the size it had then is read. Problems are one-line `UserError`s.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Uint8Array> {
  const fail = (reason: string): never => {
    throw new UserError(`cannot read ${path}: ${reason}`);
  };
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)).catch((error: unknown) => fail(describeFsError(error)));
  try {
    const info = await handle.stat();
    if (!info.isFile()) fail(notRegularFile(info));
    if (info.size > maxBytes) fail(`it has ${grouped(info.size)} bytes, more than the limit of ${grouped(maxBytes)}`);
    const bytes = new Uint8Array(info.size);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return bytes.subarray(0, filled);
  } catch (error) {
    if (error instanceof UserError) throw error;
    return fail(describeFsError(error));
  } finally {
    await handle.close();
  }
}

function notRegularFile(info: Stats): string {
  if (info.isDirectory()) return 'it is a folder';
  if (info.isFIFO()) return 'it is a named pipe (FIFO), not a regular file';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'it is a device, not a regular file';
  if (info.isSocket()) return 'it is a socket, not a regular file';
  return 'not a regular file';
}

/** A file system error in plain words, for a one-line message. */
export function describeFsError(error: unknown): string {
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
