/** Hostile inputs at the command line's edge: flags and files that must fail with one line. */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/parse';

describe('--sizes', () => {
  it('refuses a network over the weight limit before anything is allocated', () => {
    const result = parseArgs(['train', '--sizes', '784,100000000,10']);
    expect(result).toMatchObject({ kind: 'exit' });
    if (result.kind !== 'exit') return;
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(
      '--sizes: layer sizes 784-100000000-10 make 79,400,000,000 weights, more than the limit of 100,000,000',
    );
  });

  it('accepts a large network under the limit', () => {
    expect(parseArgs(['train', '--sizes', '784,4096,4096,10'])).toMatchObject({ kind: 'command' });
  });
});
