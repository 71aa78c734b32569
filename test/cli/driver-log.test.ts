import { describe, expect, it } from 'vitest';
import { DriverLogFilter } from '../../src/cli/driver-log';

/** What Dawn wrote to stderr on lavapipe, and on a machine with no Vulkan driver. */
const LAVAPIPE = [
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n',
  'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n',
].join('');
const NO_VULKAN = [
  'Warning: loader_get_json: Failed to open JSON file /nonexistent.json\n',
  'Warning: vkCreateInstance: Found no drivers!\n',
  'Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER\n',
  '    at CheckVkSuccessImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/VulkanError.cpp:106)\n',
  '\n',
].join('');

/** Our own stderr, which must come through unchanged: notices, a redrawn progress line, a crash. */
const OURS = [
  'GPU: llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) [software]\n',
  '\repoch 1/3 [####----] train 20.69%\repoch 2/3 [########] train 36.75%\r                    \r',
  '\n',
  '(node:123) Warning: a warning from Node itself\n',
  'webgpu-prune: no WebGPU adapter found\n',
  'Error: something unexpected\n',
  '    at main (file:///work/dist/cli.js:10:5)\n',
  '\n',
  'Warning without the colon stays\n',
].join('');

function filtered(chunks: string[]): string {
  const filter = new DriverLogFilter();
  return chunks.map((chunk) => filter.push(chunk)).join('') + filter.end();
}

describe('DriverLogFilter', () => {
  const lineStart = OURS.indexOf('(node');
  const stream = NO_VULKAN + OURS.slice(0, lineStart) + LAVAPIPE + OURS.slice(lineStart) + LAVAPIPE;

  it("drops Dawn's messages with their source locations and keeps every line of ours", () => {
    expect(filtered([stream])).toBe(OURS);
  });

  it('gives the same result wherever the stream is cut into chunks', () => {
    for (let cut = 0; cut <= stream.length; cut++) expect(filtered([stream.slice(0, cut), stream.slice(cut)])).toBe(OURS);
    expect(filtered([...stream])).toBe(OURS);
  });

  it('passes an unfinished line of ours on at once (a progress redraw has no newline)', () => {
    const filter = new DriverLogFilter();
    expect(filter.push('\repoch 1/3 [##--]')).toBe('\repoch 1/3 [##--]');
    expect(filter.push(' 0.1s\n')).toBe(' 0.1s\n');
    expect(filter.push('Warn')).toBe('');
    expect(filter.push('ing: Dawn is talking\nwebgpu-prune: done')).toBe('webgpu-prune: done');
    expect(filter.end()).toBe('');
  });

  it('keeps a line at the end of the stream that only began like a message', () => {
    const filter = new DriverLogFilter();
    expect(filter.push('Warn')).toBe('');
    expect(filter.end()).toBe('Warn');
  });
});
