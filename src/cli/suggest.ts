/**
 * "Did you mean …" for every name the command line selects by (profiles, change ids, scenarios, rule prefixes,
 * invariants, SPMC quirks): the known names closest to what was typed, by edit distance.
 */

/** Levenshtein distance (insertions, deletions, substitutions; case-insensitive). */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length]!;
}

/**
 * The known names closest to `typed` (at most `max`, best first): those within 2 edits (3 for names longer than
 * 5 characters); when none is, those that contain what was typed (3 characters or more).
 */
export function suggest(typed: string, known: readonly string[], max = 3): string[] {
  const t = typed.toLowerCase();
  const limit = typed.length <= 5 ? 2 : 3;
  const near: { name: string; d: number }[] = [];
  const containing: { name: string; d: number }[] = [];
  for (const name of new Set(known)) {
    const d = editDistance(typed, name);
    if (d <= limit) near.push({ name, d });
    else if (t.length >= 3 && name.toLowerCase().includes(t)) containing.push({ name, d });
  }
  const scored = near.length > 0 ? near : containing;
  scored.sort((a, b) => a.d - b.d || a.name.length - b.name.length || (a.name < b.name ? -1 : 1));
  return scored.slice(0, max).map((s) => s.name);
}

/**
 * `unknown WHAT 'typed'`, then the closest names ("did you mean …?") and, when there are few, every known name;
 * otherwise `hint` (where to see them).
 */
export function unknownName(
  what: string,
  typed: string,
  known: readonly string[],
  o: { hint?: string } = {},
): string {
  const near = suggest(typed, known);
  let s = `unknown ${what} '${typed}'`;
  if (near.length > 0) s += ` (did you mean ${near.map((n) => `'${n}'`).join(', ')}?)`;
  if (known.length <= 12) s += `; known: ${known.join(', ')}`;
  else if (o.hint !== undefined) s += `; ${o.hint}`;
  return s;
}
