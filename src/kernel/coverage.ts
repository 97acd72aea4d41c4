/**
 * Line and branch coverage of a tree's ffa.c from a `--coverage` build (gcc's gcov): counters are zeroed when a
 * measurement begins, written out when it ends (libgcov's `__gcov_dump`, through the bridge) into a directory of
 * this measurement's own (GCOV_PREFIX), and read back with `gcov --json-format`. The result is the lines and
 * branches of ffa.c only (the harness's own unit and the shims are left out), the lines never reached with the
 * function they are in, and an lcov file for genhtml and editor coverage gutters. docs/kernel-mode.md.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { KernelBuild } from './build.ts';
import { FFA_C } from './cache.ts';
import { gcov } from './hyp.ts';

export interface LineCount {
  line: number;
  count: number;
  /** The function the line is in. */
  func: string;
  /** Branch outcomes at this line: how often each was taken. */
  branches: number[];
}

export interface FfaCoverage {
  /** ffa.c's path as gcc saw it. */
  file: string;
  label: string;
  lines: { total: number; hit: number };
  branches: { total: number; taken: number };
  functions: { name: string; line: number; count: number }[];
  /** Every executable line with its count, in line order. */
  counts: LineCount[];
}

/** A running measurement; {@link CoverageSession.finish} ends it. */
export interface CoverageSession {
  /**
   * The ffa.c lines run since the last call of this (or since the start): the counters are read and zeroed, and
   * what they held goes into the measurement's total. One gcov run per call: for a scenario's host calls, not a
   * fuzz campaign's.
   */
  lines(): number[];
  finish(): FfaCoverage;
}

export class CoverageError extends Error {
  override readonly name = 'CoverageError';
}

/** Starts a measurement in this process (the build must be loadable here and built with `coverage`). */
export function beginCoverage(build: KernelBuild): CoverageSession {
  if (!build.coverage) throw new CoverageError(`${build.label} was built without --coverage`);
  const out = mkdtempSync(join(build.dir, 'gcda-'));
  // libgcov writes <objDir>/ffa_unit.gcda; strip objDir's components and put the file under `out` instead.
  process.env.GCOV_PREFIX = out;
  process.env.GCOV_PREFIX_STRIP = String(build.objDir.split('/').filter((p) => p !== '').length);
  if (!gcov(build, 'reset')) throw new CoverageError(`${build.label}: the addon has no gcov counters`);
  copyFileSync(join(build.dir, 'ffa_unit.gcno'), join(out, 'ffa_unit.gcno'));
  let total: FfaCoverage | undefined;
  /** Counters since the last snapshot; then zeroed (libgcov merges into an existing .gcda: it is removed). */
  const snapshot = (): FfaCoverage => {
    gcov(build, 'dump');
    const gcda = join(out, 'ffa_unit.gcda');
    if (!existsSync(gcda)) throw new CoverageError(`libgcov wrote no ${gcda}`);
    const c = readGcov(build, out);
    rmSync(gcda, { force: true });
    gcov(build, 'reset');
    total = total === undefined ? c : mergeCoverage(total, c);
    return c;
  };
  return {
    lines: () =>
      snapshot()
        .counts.filter((l) => l.count > 0)
        .map((l) => l.line),
    finish: () => {
      try {
        snapshot();
        return total!;
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
  };
}

interface GcovJson {
  files: {
    file: string;
    functions?: { name: string; demangled_name?: string; start_line: number; execution_count: number }[];
    lines: {
      line_number: number;
      count: number;
      function_name?: string;
      branches?: { count: number; throw?: boolean; fallthrough?: boolean }[];
    }[];
  }[];
}

function readGcov(build: KernelBuild, dir: string): FfaCoverage {
  const r = spawnSync('gcov', ['--json-format', '--branch-probabilities', '--stdout', 'ffa_unit.gcda'], {
    cwd: dir,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new CoverageError(`gcov failed: ${r.stderr.toString()}`);
  let text = r.stdout;
  if (text.length >= 2 && text[0] === 0x1f && text[1] === 0x8b) text = gunzipSync(text);
  // One JSON document per object file.
  let json: GcovJson | undefined;
  for (const line of text.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const doc = JSON.parse(line) as GcovJson;
    if (doc.files.some((f) => f.file.endsWith(FFA_C))) json = doc;
  }
  const f = json?.files.find((x) => x.file.endsWith(FFA_C));
  if (f === undefined) throw new CoverageError(`gcov has no lines of ${FFA_C}`);
  const counts: LineCount[] = f.lines
    .map((l) => ({
      line: l.line_number,
      count: l.count,
      func: l.function_name ?? '?',
      branches: (l.branches ?? []).filter((b) => b.throw !== true).map((b) => b.count),
    }))
    .sort((a, b) => a.line - b.line);
  // A line gcc splits across inlined copies appears more than once: merge (hit if any copy ran).
  const merged: LineCount[] = [];
  for (const c of counts) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.line === c.line) {
      last.count += c.count;
      for (const b of c.branches) last.branches.push(b);
    } else merged.push({ ...c, branches: [...c.branches] });
  }
  const branches = merged.flatMap((c) => c.branches);
  return {
    file: f.file,
    label: build.label,
    lines: { total: merged.length, hit: merged.filter((c) => c.count > 0).length },
    branches: { total: branches.length, taken: branches.filter((n) => n > 0).length },
    functions: (f.functions ?? [])
      .map((fn) => ({ name: fn.demangled_name ?? fn.name, line: fn.start_line, count: fn.execution_count }))
      .sort((a, b) => a.line - b.line),
    counts: merged,
  };
}

/** Adds a second measurement of the same build (e.g. check, then a fuzz campaign). */
export function mergeCoverage(a: FfaCoverage, b: FfaCoverage): FfaCoverage {
  const by = new Map<number, LineCount>();
  for (const c of [...a.counts, ...b.counts]) {
    const x = by.get(c.line);
    if (x === undefined) by.set(c.line, { ...c, branches: [...c.branches] });
    else {
      x.count += c.count;
      x.branches = x.branches.map((n, i) => n + (c.branches[i] ?? 0));
    }
  }
  const counts = [...by.values()].sort((p, q) => p.line - q.line);
  const branches = counts.flatMap((c) => c.branches);
  const fns = new Map<string, { name: string; line: number; count: number }>();
  for (const fn of [...a.functions, ...b.functions]) {
    const x = fns.get(fn.name);
    if (x === undefined) fns.set(fn.name, { ...fn });
    else x.count += fn.count;
  }
  return {
    ...a,
    lines: { total: counts.length, hit: counts.filter((c) => c.count > 0).length },
    branches: { total: branches.length, taken: branches.filter((n) => n > 0).length },
    functions: [...fns.values()].sort((p, q) => p.line - q.line),
    counts,
  };
}

const pct = (n: number, d: number): string => (d === 0 ? '—' : `${((100 * n) / d).toFixed(1)} %`);

/** The lines never reached, as runs of consecutive executable lines within one function. */
export function unreached(c: FfaCoverage): { func: string; from: number; to: number }[] {
  const out: { func: string; from: number; to: number }[] = [];
  c.counts.forEach((l, i) => {
    if (l.count > 0) return;
    const prev = c.counts[i - 1];
    const last = out[out.length - 1];
    if (last !== undefined && prev !== undefined && prev.count === 0 && prev.func === l.func)
      last.to = l.line;
    else out.push({ func: l.func, from: l.line, to: l.line });
  });
  return out;
}

/** The summary a command prints: totals, per-function line coverage, the unreached lines. */
export function coverageText(c: FfaCoverage, lcovPath?: string): string {
  let s = `coverage of ${FFA_C} (${c.label}): lines ${c.lines.hit}/${c.lines.total} (${pct(c.lines.hit, c.lines.total)}), branches ${c.branches.taken}/${c.branches.total} (${pct(c.branches.taken, c.branches.total)})\n`;
  const perFn = new Map<string, { hit: number; total: number }>();
  for (const l of c.counts) {
    const x = perFn.get(l.func) ?? { hit: 0, total: 0 };
    x.total++;
    if (l.count > 0) x.hit++;
    perFn.set(l.func, x);
  }
  const gaps = unreached(c);
  if (gaps.length > 0) {
    s += '  never reached:\n';
    for (const [fn, x] of perFn) {
      const mine = gaps.filter((g) => g.func === fn);
      if (mine.length === 0) continue;
      s += `    ${fn} (${x.hit}/${x.total} lines): ${mine.map((g) => (g.from === g.to ? `${g.from}` : `${g.from}–${g.to}`)).join(', ')}\n`;
    }
  }
  if (lcovPath !== undefined) s += `  lcov: ${lcovPath}\n`;
  return s;
}

/** lcov tracefile (geninfo format): genhtml, editor coverage gutters. */
export function toLcov(c: FfaCoverage): string {
  const out = ['TN:ffasim', `SF:${c.file}`];
  for (const f of c.functions) out.push(`FN:${f.line},${f.name}`);
  for (const f of c.functions) out.push(`FNDA:${f.count},${f.name}`);
  out.push(`FNF:${c.functions.length}`, `FNH:${c.functions.filter((f) => f.count > 0).length}`);
  for (const l of c.counts) {
    l.branches.forEach((n, i) => {
      out.push(`BRDA:${l.line},0,${i},${l.count === 0 ? '-' : n}`);
    });
  }
  out.push(`BRF:${c.branches.total}`, `BRH:${c.branches.taken}`);
  for (const l of c.counts) out.push(`DA:${l.line},${l.count}`);
  out.push(`LF:${c.lines.total}`, `LH:${c.lines.hit}`, 'end_of_record');
  return `${out.join('\n')}\n`;
}
