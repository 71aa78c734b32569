import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vitest/config';

/** Imports `.wgsl` files as strings, as the esbuild bundle does with its `text` loader. */
function wgslAsText(): Plugin {
  return {
    name: 'wgsl-as-text',
    load(id) {
      if (!id.endsWith('.wgsl')) return null;
      return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
    },
  };
}

export default defineConfig({
  plugins: [wgslAsText()],
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Software adapters run kernels on the CPU: GPU suites are slow but must not time out.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One process at a time: the GPU suites share a 2-core machine with the software adapter.
    fileParallelism: false,
  },
});
