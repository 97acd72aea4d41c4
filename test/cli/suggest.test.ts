/** Why this test? Every "did you mean …" of the command line comes from this helper: close names, few, best first. */
import { describe, expect, it } from 'vitest';
import { editDistance, suggest, unknownName } from '../../src/cli/suggest.ts';

describe('suggest', () => {
  it('edit distance, case-insensitive', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('I3', 'i3')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('the closest names first; names containing what was typed only when none is close', () => {
    expect(suggest('boto', ['boot', 'h1', 'share-lend-reclaim'])).toEqual(['boot']);
    expect(suggest('lend', ['boot', 'share-lend-reclaim'])).toEqual(['share-lend-reclaim']);
    expect(suggest('zzz', ['boot', 'h1'])).toEqual([]);
    expect(suggest('h41', ['h1', 'h4', 'h11', 'h14', 'h20'])).toEqual(['h1', 'h4', 'h11']);
  });

  it('unknownName lists few known names, or the hint for many', () => {
    expect(unknownName('invariant', 'I9', ['I1', 'I2'])).toBe(
      "unknown invariant 'I9' (did you mean 'I1', 'I2'?); known: I1, I2",
    );
    const many = Array.from({ length: 20 }, (_, i) => `change-${i}`);
    expect(unknownName('change', 'xyz', many, { hint: "see 'ffasim profiles'" })).toBe(
      "unknown change 'xyz'; see 'ffasim profiles'",
    );
  });
});
