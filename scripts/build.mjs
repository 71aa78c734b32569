// Bundles the CLI (and the browser app) with esbuild; WGSL files become strings.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const common = { bundle: true, loader: { '.wgsl': 'text' }, logLevel: 'warning', sourcemap: true };

await build({
  ...common,
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/cli.js',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  banner: { js: '#!/usr/bin/env node' },
});
chmodSync('dist/cli.js', 0o755);
