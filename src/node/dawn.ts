/**
 * Dawn's Node bindings (npm package `webgpu`): the `GPU` object for Node, with the software
 * adapter environment filled in when the machine has no GPU.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';

export interface DawnOptions {
  /** Dawn backend: `vulkan` (default on Linux), `opengles`, `metal`, `d3d12`, ... */
  backend?: string;
  /** Substring of the adapter name to pick, e.g. `llvmpipe` or `SwiftShader`. */
  adapter?: string;
}

/** Dawn aborts the process at the next await if the object `create()` returns is collected. */
let keepAlive: GPU | null = null;

export function dawnGpu(options: DawnOptions = {}): GPU {
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `xdg-runtime-${process.getuid?.() ?? 0}`);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  if (keepAlive && !options.backend && !options.adapter) return keepAlive;
  Object.assign(globalThis, globals);
  const flags: string[] = [];
  if (options.backend) flags.push(`backend=${options.backend}`);
  if (options.adapter) flags.push(`adapter=${options.adapter}`);
  keepAlive = create(flags);
  return keepAlive;
}
