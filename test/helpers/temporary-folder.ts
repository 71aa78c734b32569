/**
 * Temporary folders for tests. Each is removed, with everything in it, when its test file ends
 * (test/setup.ts registers the removal for every file), so a test run leaves nothing behind in
 * the system's temporary folder, whether its tests pass or fail; and when the test process exits,
 * for a file whose collection failed before its hooks could run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
let exitHookRegistered = false;

/** A new empty folder in the system's temporary folder, named `prefix` and six random characters. */
export function temporaryFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (!exitHookRegistered) {
    process.once('exit', removeTemporaryFolders);
    exitHookRegistered = true;
  }
  made.push(dir);
  return dir;
}

/** Removes every folder that `temporaryFolder` made in this test file. */
export function removeTemporaryFolders(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
