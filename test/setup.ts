/** Runs in every test file before its tests (vitest's `setupFiles`). */
import { afterAll } from 'vitest';
import { removeTemporaryFolders } from './helpers/temporary-folder';

afterAll(removeTemporaryFolders);
