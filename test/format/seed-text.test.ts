import { describe, expect, it } from 'vitest';
import { formatSeedText, parseSeedText } from '../../src/format/seed-text';
import { initNetwork, type Network } from '../../src/model/network';
import { UserError } from '../../src/util/errors';
import { withAllocationLimit } from '../fuzz/allocation';
import { prunedNetwork } from '../helpers/fixtures';

// sizes 3,2,1: inputs 0..2, hidden 3..4, output 5; five non-output neurons.
const TINY_LINES = ['3,2,1', '3,4', '4', '', '5', '5', '0.5,-0.25', '1E-05', '', '2', '-0.125'];

function messageOf(text: string): string {
  try {
    parseSeedText(text, 'net.txt');
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).not.toMatch(/[\r\n]/);
    return (error as Error).message;
  }
  throw new Error('expected a UserError');
}

function withLine(lineNumber: number, text: string): string {
  const lines = [...TINY_LINES];
  lines[lineNumber - 1] = text;
  return lines.map((l) => `${l}\r\n`).join('');
}

describe('seed text format: reading', () => {
  const expectTiny = (net: Network) => {
    expect(net.sizes).toEqual([3, 2, 1]);
    expect(Array.from(net.weights[0]!)).toEqual([0.5, -0.25, 0, Math.fround(1e-5), 0, 0]);
    expect(Array.from(net.masks[0]!)).toEqual([1, 1, 0, 1, 0, 0]);
    expect(Array.from(net.weights[1]!)).toEqual([2, -0.125]);
    expect(Array.from(net.masks[1]!)).toEqual([1, 1]);
  };

  it('parses a hand-written file into the exact matrices', () => {
    expectTiny(parseSeedText(TINY_LINES.map((l) => `${l}\r\n`).join(''), 'net.txt'));
  });

  it('accepts LF, CR, no final newline and a byte order mark', () => {
    expectTiny(parseSeedText(TINY_LINES.join('\n') + '\n', 'net.txt'));
    expectTiny(parseSeedText(TINY_LINES.join('\r'), 'net.txt'));
    expectTiny(parseSeedText(TINY_LINES.join('\r\n'), 'net.txt'));
    expectTiny(parseSeedText('\uFEFF' + TINY_LINES.join('\r\n'), 'net.txt'));
  });

  it('accepts indices in any order', () => {
    const lines = [...TINY_LINES];
    lines[1] = '4,3';
    lines[6] = '-0.25,0.5';
    expectTiny(parseSeedText(lines.join('\r\n'), 'net.txt'));
  });

  it('keeps a listed weight of 0 as present', () => {
    const net = parseSeedText(withLine(10, '0'), 'net.txt');
    expect(net.masks[1]![0]).toBe(1);
    expect(net.weights[1]![0]).toBe(0);
  });

  it('rejects a wrong line count', () => {
    expect(messageOf(TINY_LINES.slice(0, 8).join('\r\n'))).toBe(
      'net.txt line 8: file ends after 8 lines; sizes 3,2,1 need 11 lines (1 sizes line, 5 position lines, 5 weight lines)',
    );
    expect(messageOf([...TINY_LINES, ''].map((l) => `${l}\r\n`).join(''))).toBe(
      'net.txt line 12: unexpected line; sizes 3,2,1 need 11 lines (1 sizes line, 5 position lines, 5 weight lines)',
    );
    expect(messageOf('')).toBe('net.txt: empty file; expected layer sizes like 784,100,100,10 on line 1');
  });

  it('rejects a bad sizes line', () => {
    expect(messageOf(withLine(1, '3,x,1'))).toBe('net.txt line 1: "3,x,1" is not a list of layer sizes like 784,100,100,10');
    expect(messageOf(withLine(1, '3,0,1'))).toContain('is not a list of layer sizes');
    expect(messageOf(withLine(1, '784'))).toContain('is not a list of layer sizes');
  });

  it('rejects non-numeric fields', () => {
    expect(messageOf(withLine(2, '3,a'))).toBe('net.txt line 2: "a" is not a neuron index');
    expect(messageOf(withLine(2, '3,4.5'))).toBe('net.txt line 2: "4.5" is not a neuron index');
    expect(messageOf(withLine(7, '0.5,abc'))).toBe('net.txt line 7: "abc" is not a number');
    expect(messageOf(withLine(7, '0.5;-0.25'))).toBe(
      'net.txt line 7: neuron 0 (layer 0) has 1 weights but line 2 lists 2 positions',
    );
  });

  it('escapes control characters of the text it quotes', () => {
    expect(messageOf(withLine(2, '3,\x1b[2J'))).toBe('net.txt line 2: "\\x1b[2J" is not a neuron index');
    expect(messageOf(withLine(7, '0.5,\u202e1'))).toBe('net.txt line 7: "\\u202e1" is not a number');
  });

  it('rejects an index outside the next layer', () => {
    expect(messageOf(withLine(2, '3,5'))).toBe(
      'net.txt line 2: neuron 0 (layer 0) feeds neuron 5, but only neurons 3..4 (layer 1) can follow it',
    );
    expect(messageOf(withLine(5, '2'))).toBe(
      'net.txt line 5: neuron 3 (layer 1) feeds neuron 2, but only neurons 5..5 (layer 2) can follow it',
    );
    expect(messageOf(withLine(2, '3,-4'))).toContain('feeds neuron -4, but only neurons 3..4');
  });

  it('rejects a duplicate index', () => {
    expect(messageOf(withLine(2, '4,4'))).toBe('net.txt line 2: neuron 0 (layer 0) lists neuron 4 twice');
  });

  it('rejects positions and weights of different lengths', () => {
    expect(messageOf(withLine(8, '1E-05,2'))).toBe(
      'net.txt line 8: neuron 1 (layer 0) has 2 weights but line 3 lists 1 positions',
    );
    expect(messageOf(withLine(9, '1'))).toBe('net.txt line 9: neuron 2 (layer 0) has 1 weights but line 4 lists 0 positions');
  });

  it('refuses sizes the file cannot describe, before allocating them', () => {
    // 22 bytes whose sizes line asks for 2e9 weights (10 GB as weights and mask).
    const huge = '1,2000000000\r\n3\r\n0.5\r\n';
    expect(huge.length).toBe(22);
    const kilobyte = 1024;
    expect(withAllocationLimit(kilobyte, () => messageOf(huge)).value).toBe(
      'net.txt line 1: layer sizes 1-2000000000 make 2,000,000,000 weights, more than the limit of 100,000,000',
    );
    expect(withAllocationLimit(kilobyte, () => messageOf(withLine(1, '4000000000,2,1'))).value).toContain(
      'more than the limit of 100,000,000',
    );
    // Within the global limit, but 20,000,006 weights from a 61-byte file.
    expect(withAllocationLimit(kilobyte, () => messageOf(withLine(1, '3,2,10000000'))).value).toBe(
      'net.txt line 1: layer sizes 3-2-10000000 make 20,000,006 weights, more than a 61-byte file can describe ' +
        '(the limit is 256 weights per byte, at least 1,048,576)',
    );
  });

  it('rejects non-finite weights', () => {
    expect(messageOf(withLine(10, '1e50'))).toBe('net.txt line 10: weight "1e50" of neuron 3 (layer 1) is not a finite float32');
    expect(messageOf(withLine(10, 'NaN'))).toBe('net.txt line 10: weight "NaN" of neuron 3 (layer 1) is not a finite float32');
  });
});

describe('seed text format: writing', () => {
  it('writes the hand-written file byte for byte', () => {
    const text = TINY_LINES.map((l) => `${l}\r\n`).join('');
    expect(formatSeedText(parseSeedText(text, 'net.txt'))).toBe(text);
    expect(formatSeedText(parseSeedText(text, 'net.txt'), { lineEnding: '\n' })).toBe(TINY_LINES.join('\n') + '\n');
  });

  it('writes kept outputs in ascending order with absolute indices', () => {
    const lines = [...TINY_LINES];
    lines[1] = '4,3';
    lines[6] = '-0.25,0.5';
    const text = formatSeedText(parseSeedText(lines.join('\n'), 'net.txt'));
    expect(text.split('\r\n')[1]).toBe('3,4');
    expect(text.split('\r\n')[6]).toBe('0.5,-0.25');
  });

  it('round-trips a pruned 784-100-100-10 network: same weights and masks, same bytes', () => {
    const net = prunedNetwork([784, 100, 100, 10], 42, 0.01);
    const text = formatSeedText(net);
    expect(text.startsWith('784,100,100,10\r\n')).toBe(true);
    expect(text.split('\r\n').length - 1).toBe(1 + 2 * 984);
    const back = parseSeedText(text, 'net.txt');
    expect(back.sizes).toEqual(net.sizes);
    back.weights.forEach((w, l) => {
      expect(w).toEqual(net.weights[l]);
      expect(back.masks[l]).toEqual(net.masks[l]);
    });
    expect(formatSeedText(back)).toBe(text);
  });

  it('round-trips a dense network and one with fully pruned neurons', () => {
    const dense = initNetwork([5, 4, 3], 7);
    expect(formatSeedText(parseSeedText(formatSeedText(dense), 'a.txt'))).toBe(formatSeedText(dense));
    const empty = prunedNetwork([5, 4, 3], 7, 1);
    const text = formatSeedText(empty);
    expect(text).toBe('5,4,3\r\n' + '\r\n'.repeat(18));
    const back = parseSeedText(text, 'b.txt');
    expect(back.masks.every((m) => m.every((v) => v === 0))).toBe(true);
  });
});
