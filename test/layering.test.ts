/**
 * The trainer must run in Chrome unchanged: library folders may not import Node modules or the
 * Dawn bindings, and no library code may import the CLI or the browser page.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const portable = ['cpu', 'data', 'format', 'gpu', 'model', 'prune', 'train', 'util'];
// src/bench is the CLI's measurement harness and may use the CLI's progress output.
const library = [...portable, 'node'];

function sources(folder: string): string[] {
  const dir = join('src', folder);
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);
}

describe('layering', () => {
  it.each(portable)('src/%s imports no Node module and no Dawn binding', (folder) => {
    const files = sources(folder);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bad = imports(file).filter((m) => m.startsWith('node:') || m === 'webgpu' || ['fs', 'path', 'os', 'zlib', 'child_process'].includes(m));
      expect(bad, file).toEqual([]);
    }
  });

  it.each(library)('src/%s does not import the CLI or the web page', (folder) => {
    for (const file of sources(folder)) {
      const bad = imports(file).filter((m) => /(^|\/)(cli|web)(\/|$)/.test(m));
      expect(bad, file).toEqual([]);
    }
  });
});
