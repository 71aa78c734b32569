/** The page's durations: seconds, then minutes and seconds, then hours and minutes, each rounded once. */
import { describe, expect, it } from 'vitest';
import { seconds } from '../../src/web/views';

describe('durations on the page', () => {
  it.each([
    [4.26, '4.3 s'],
    [42.4, '42 s'],
    [59.7, '1 min 0 s'],
    [119.6, '2 min 0 s'],
    [125.2, '2 min 5 s'],
    [3599.6, '1 h 0 min'],
    [7384, '2 h 3 min'],
  ])('%s s reads %s', (s, text) => {
    expect(seconds(s)).toBe(text);
  });
});
