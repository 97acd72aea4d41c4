/**
 * `ffasim diff` and `kernel identify` on the Debian trees: the model with the tree's profile and the real ffa.c
 * agree call by call; identify names the profile; a wrong profile diverges (exit 1, a shrunk sequence).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DiffSide, diffSubject } from '../../src/check/differential.ts';
import { identifyIsolated } from '../../src/cli/kernel-identify-cmd.ts';
import { main } from '../../src/cli/main.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { kernelHypForTree } from '../../src/kernel/hyp.ts';
import { BUILTIN_SCENARIOS } from '../../src/scenario/builtin/index.ts';
import { debianTree } from './trees.ts';

const TREES = [
  ['7.3', 'linux-7.3'],
  ['6.12', 'linux-6.12'],
] as const;

/** ffasim's CLI from the sources, for the child processes identify starts. */
const CLI = [process.execPath, resolve('node_modules/tsx/dist/cli.mjs'), resolve('src/cli/main.ts')];

describe.each(TREES)('diff on Debian %s', (version, profileName) => {
  it(`0 divergences vs ${profileName} on every built-in scenario and a seeded fuzz batch`, async () => {
    const tree = await debianTree(version);
    if (tree === undefined) return;
    const profile = createProfile(profileName);
    const model: DiffSide = { label: `model ${profileName}`, profile };
    const real: DiffSide = {
      label: `ffa.c ${version}`,
      profile,
      hyp: kernelHypForTree(tree, { stackInit: 'pattern' }),
    };
    let calls = 0;
    for (const s of BUILTIN_SCENARIOS) {
      const r = diffSubject({ kind: 'scenario', scenario: s }, model, real);
      expect(r.divergences.map((d) => `${s.name}: ${d.divergence.what}`)).toEqual([]);
      calls += r.calls;
    }
    const f = diffSubject({ kind: 'fuzz', seed: 5, runs: 80 }, model, real);
    expect(f.divergences.map((d) => d.divergence.what)).toEqual([]);
    expect(f.sequences).toBe(80);
    expect(calls + f.calls).toBeGreaterThan(500);
  }, 120_000);

  it(`kernel identify names ${profileName}`, async () => {
    const tree = await debianTree(version);
    if (tree === undefined) return;
    const r = await identifyIsolated(tree, CLI);
    if (typeof r === 'number') throw new Error(`identify exited ${r}`);
    expect(r.best).toBe(profileName);
    const best = r.scores.find((s) => s.profile === profileName)!;
    expect(best.diverging).toEqual([]);
    // Evidence per change, measured: the tree's era decides these.
    const verdict = (c: string) => r.changes.find((x) => x.change === c)?.verdict;
    if (version === '7.3') {
      expect(verdict('zeroed-result')).toBe('carries');
      expect(verdict('version-ns-s32')).toBe('carries');
      expect(verdict('emad-offset-validate')).toBe('carries');
    } else {
      expect(verdict('hyp-ffa-v1-2')).toBe('lacks');
      expect(verdict('emad-offset-header')).toBe('carries');
      expect(verdict('mem-len-check')).toBe('carries');
    }
  }, 180_000);
});

describe('diff with a profile the tree is not', () => {
  it('ffa-1.2-hardened on 6.12: divergences, exit 1, a shrunk sequence', async () => {
    const tree = await debianTree('6.12');
    if (tree === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-diff-'));
    try {
      const out = join(dir, 'r.json');
      const code = await main([
        'diff',
        '--kernel',
        tree,
        '--profile',
        'ffa-1.2-hardened',
        'boot',
        'h6',
        '--json',
        '-o',
        out,
      ]);
      expect(code).toBe(1);
      const r = JSON.parse(readFileSync(out, 'utf8')) as {
        divergences: {
          shrunkCalls: number;
          originalCalls: number;
          firstDivergence: { call: number; a: unknown; b: unknown };
        }[];
      };
      expect(r.divergences.length).toBeGreaterThan(0);
      for (const d of r.divergences) {
        expect(d.shrunkCalls).toBeLessThanOrEqual(d.originalCalls);
        expect(d.firstDivergence.a).toBeDefined();
        expect(d.firstDivergence.b).toBeDefined();
      }
      expect(r.divergences.some((d) => d.shrunkCalls < d.originalCalls)).toBe(true);
      // The report's final run is on the gcov build: what decided on the real side is the ffa.c lines it ran.
      const text = join(dir, 'r.txt');
      expect(await main(['diff', '--kernel', tree, '--profile', 'linux-7.3', 'boot', '-o', text])).toBe(1);
      expect(readFileSync(text, 'utf8')).toMatch(
        /^ {2}ffa\.c 6\.12\.\d+ decided: init \(ffa\.c 6\.12\.\d+\): hyp_ffa_init returned 0; .*; ran ffa\.c lines \d+/m,
      );
      // Bad input: exit 2.
      expect(await main(['diff', '--kernel', tree, '--profile', 'linux-6.12', 'no-such-scenario'])).toBe(2);
      expect(await main(['diff', 'boot'])).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
