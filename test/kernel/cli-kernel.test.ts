/**
 * Kernel mode through the CLI on Debian 7.3's and 6.12's real ffa.c: fuzzing in crash-isolated workers finds the FRAG_RX
 * fragment-length hazard with the ffa.c line, its replay file reproduces it; check prints gcov coverage and writes
 * lcov; replay and check take --kernel like run. Sanitizer report parsing is tested on its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCrash, sequenceAt } from '../../src/kernel/campaign.ts';
import { debianTree } from './trees.ts';

const root = resolve(import.meta.dirname, '../..');
const t73 = await debianTree('7.3');
const t612 = await debianTree('6.12');

function ffasim(args: string[], cwd: string): { code: number; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(root, 'src/cli/main.ts'), ...args],
    {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 240_000,
    },
  );
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('sanitizer reports and campaign sequences', () => {
  it('reads the kind and the first ffa.c frame of an ASan report, and a UBSan line', () => {
    const asan = [
      '==123==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011',
      'READ of size 8 at 0x602000000011 thread T0',
      '    #0 0x7f00 in __interceptor_memcpy ../sanitizer_common/x.inc:827',
      '    #1 0x7f01 in do_ffa_mem_reclaim /t/arch/arm64/kvm/hyp/nvhe/ffa.c:646',
    ].join('\n');
    expect(parseCrash(asan, null)).toMatchObject({
      kind: 'AddressSanitizer: heap-buffer-overflow',
      func: 'do_ffa_mem_reclaim',
      line: 646,
    });
    const ubsan = '/t/arch/arm64/kvm/hyp/nvhe/ffa.c:518:9: runtime error: shift exponent 64 is too large';
    expect(parseCrash(ubsan, null)).toMatchObject({
      kind: expect.stringMatching(/^UndefinedBehaviorSanitizer/),
      line: 518,
    });
    expect(parseCrash('nothing here', 'SIGSEGV')?.kind).toBe('signal SIGSEGV');
    expect(parseCrash('nothing here', null)).toBeUndefined();
  });

  it('a sequence is a function of (seed, index) alone', () => {
    expect(sequenceAt(7, 3, 24)).toEqual(sequenceAt(7, 3, 24));
    const distinct = new Set(Array.from({ length: 20 }, (_, i) => JSON.stringify(sequenceAt(7, i, 24))));
    expect(distinct.size).toBeGreaterThan(15);
  });
});

describe.skipIf(t73 === undefined)('kernel mode CLI on Debian 7.3', () => {
  it('fuzz --kernel finds the FRAG_RX overflow at its ffa.c line, and replay --kernel reproduces it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-kfuzz-'));
    const f = ffasim(
      ['fuzz', '--kernel', t73!, '--spmc-quirks', 'frag-rx-long', '--runs', '40', '--json', '--out', 'camp'],
      dir,
    );
    expect(f.code).toBe(1);
    // Everything in the campaign folder, nothing beside it.
    expect(readdirSync(dir)).toEqual(['camp']);
    const j = JSON.parse(f.out) as {
      findings: { title: string; replay: string; class: string }[];
      workers: number;
    };
    const hit = j.findings.find((x) =>
      /I6: .*RX mailbox \(read by do_ffa_mem_reclaim \(ffa\.c:\d+\)\)/.test(x.title),
    );
    expect(hit, JSON.stringify(j.findings)).toBeDefined();
    expect(hit!.class).toBe('holds-when-el3-lies');
    expect(hit!.replay).toMatch(/^camp\/finding-\d{3}\.jsonl$/);
    const names = readdirSync(join(dir, 'camp'));
    expect(names).toEqual(expect.arrayContaining(['summary.md', 'summary.json']));
    expect(names.filter((n) => n.endsWith('.jsonl')).length).toBe(j.findings.length);
    expect(names.filter((n) => n.endsWith('.md')).length).toBe(j.findings.length + 1);
    const file = readFileSync(join(dir, hit!.replay), 'utf8');
    expect(file).toMatch(/^# reproduce: ffasim replay THIS_FILE --kernel /m);
    const md = readFileSync(join(dir, hit!.replay.replace(/\.jsonl$/, '.md')), 'utf8');
    expect(md).toMatch(/^- \*\*Class:\*\* holds-when-el3-lies/m);
    expect(md).toMatch(/^1\. smc FFA_VERSION/m);
    const r = ffasim(['replay', hit!.replay, '--kernel', t73!], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /EL2 access past the end of the hyp RX mailbox \(read by do_ffa_mem_reclaim \(ffa\.c:\d+\)\): \d+ bytes at \+0 \(limit 4096\) \(I6\)/,
    );
    // Without --out nothing is written: the replay goes to stdout.
    const dir2 = mkdtempSync(join(tmpdir(), 'ffasim-kfuzz-'));
    const g = ffasim(['fuzz', '--kernel', t73!, '--spmc-quirks', 'frag-rx-long', '--runs', '40'], dir2);
    expect(g.code).toBe(1);
    expect(readdirSync(dir2)).toEqual([]);
    expect(g.out).toMatch(/# nothing was written: pass --out DIR/);
    expect(g.out).toMatch(/^# ---- finding 001 \(save as a file and run: ffasim replay FILE --kernel /m);
    expect(ffasim(['fuzz', '--kernel', t73!, '--out', 'x.jsonl'], dir2)).toMatchObject({ code: 2 });
  }, 300_000);

  it('fuzz --kernel --spmc hostile: an EL2 data abort driven by EL3 lies and the H18 WARN, reproducible byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-khostile-'));
    const args = (out: string) => [
      'fuzz',
      '--kernel',
      t73!,
      '--spmc',
      'hostile',
      '--profile',
      'ffa-1.2-hardened',
      '--runs',
      '4600',
      '--json',
      '--out',
      out,
    ];
    const f = ffasim(args('a'), dir);
    expect(f.code, f.err).toBe(1);
    type F = { title: string; replay: string; class: string; kind: string; lies?: number };
    const j = JSON.parse(f.out) as { findings: F[] };
    // A retrieve response whose fragment length EL3 lied about: ffa.c reads the EMAD before it bounds the length.
    const abort = j.findings.find((x) =>
      /^I6: EL2 data abort: SIGSEGV, 0x[0-9a-f]+ bytes past the end of the hyp pages .* by do_ffa_mem_reclaim \(ffa\.c:\d+\)$/.test(
        x.title,
      ),
    );
    expect(abort, JSON.stringify(j.findings, null, 1)).toBeDefined();
    expect(abort!.class).toBe('holds-when-el3-lies');
    expect(abort!.lies).toBeGreaterThan(0);
    // H18 (bug-history.md): the SPMC refuses to reclaim a partly sent handle and the hyp WARNs — no lie needed.
    const h18 = j.findings.find((x) => /^WARN_ON in do_ffa_mem_frag_tx \(ffa\.c:\d+\)/.test(x.title));
    expect(h18?.kind).toBe('warn');
    expect(h18?.lies).toBeUndefined();
    expect(h18?.class).toBe('holds-when-el3-lies');
    // The replay carries the lies and reproduces the abort in this process (no crash: the call is stopped).
    const file = readFileSync(join(dir, abort!.replay), 'utf8');
    expect(file).toMatch(/"hostile":\{"lies":\[/);
    const r = ffasim(['replay', abort!.replay, '--kernel', t73!], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/EL2 data abort: SIGSEGV, .* by do_ffa_mem_reclaim \(ffa\.c:\d+\) \(I6\)/);
    // The same seed and runs: the same findings, byte for byte.
    expect(ffasim(args('b'), dir).code).toBe(1);
    const files = (d: string) => readdirSync(join(dir, d)).filter((n) => n.startsWith('finding-'));
    expect(files('b')).toEqual(files('a'));
    for (const n of files('a'))
      expect(readFileSync(join(dir, 'b', n), 'utf8').replaceAll('b/finding', 'a/finding'), n).toBe(
        readFileSync(join(dir, 'a', n), 'utf8'),
      );
  }, 300_000);

  it('check --kernel --coverage prints ffa.c line coverage and writes an lcov file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-kcov-'));
    const c = ffasim(['check', '--kernel', t73!, '--profile', 'ffa-1.2-hardened', '--coverage'], dir);
    expect(c.out).toMatch(
      /coverage of arch\/arm64\/kvm\/hyp\/nvhe\/ffa\.c \(ffa\.c 7\.3\.\d+\): lines (\d+)\/(\d+)/,
    );
    const [, hit, total] = /lines (\d+)\/(\d+)/.exec(c.out)!;
    expect(Number(hit) / Number(total)).toBeGreaterThan(0.6);
    expect(c.out).toMatch(/never reached:\n {4}\w+ \(\d+\/\d+ lines\)/);
    expect(existsSync(join(dir, 'ffa-coverage.lcov'))).toBe(true);
    const lcov = readFileSync(join(dir, 'ffa-coverage.lcov'), 'utf8');
    expect(lcov).toMatch(/^SF:.*ffa\.c$/m);
    expect(lcov).toMatch(new RegExp(`^LH:${hit}$`, 'm'));
    expect(lcov.trim().endsWith('end_of_record')).toBe(true);
  }, 300_000);

  it('run --kernel --coverage: each host call carries the ffa.c lines it ran, --explain shows them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-klines-'));
    const src = readFileSync(join(t73!, 'arch/arm64/kvm/hyp/nvhe/ffa.c'), 'utf8').split('\n');
    /** The lines of a function's body in the tree's own ffa.c (its definition to the closing brace). */
    const body = (fn: string): [number, number] => {
      const from = src.findIndex((l) => new RegExp(`^static \\w+ ${fn}\\(`).test(l));
      const to = src.findIndex((l, i) => i > from && l === '}');
      return [from + 1, to + 1];
    };
    const j = ffasim(['run', 'boot', '--kernel', t73!, '--coverage', '--format', 'jsonl'], dir);
    expect(j.code, j.err).toBe(0);
    const ev = j.out
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as { kind: string; call: number; name?: string; lines?: number[] });
    const linesOf = (name: string): number[] => {
      const call = ev.find((e) => e.kind === 'hop' && e.name === name)!.call;
      return ev.find((e) => e.kind === 'decision' && e.call === call && e.lines !== undefined)!.lines!;
    };
    const [m0, m1] = body('do_ffa_rxtx_map');
    expect(linesOf('FFA_RXTX_MAP_64').some((l) => l > m0 && l < m1)).toBe(true);
    const [p0, p1] = body('do_ffa_part_get');
    expect(linesOf('FFA_PARTITION_INFO_GET').some((l) => l > p0 && l < p1)).toBe(true);
    // A forwarded call runs no line of the RXTX_MAP handler.
    expect(linesOf('FFA_FEATURES').some((l) => l > m0 && l < m1)).toBe(false);
    expect(j.err).toMatch(
      /coverage of arch\/arm64\/kvm\/hyp\/nvhe\/ffa\.c \(ffa\.c 7\.3\.\d+\): lines \d+\/\d+/,
    );
    const t = ffasim(['run', 'boot', '--kernel', t73!, '--coverage', '--explain'], dir);
    expect(t.out).toMatch(
      /init \(ffa\.c 7\.3\.\d+\): hyp_ffa_init returned 0; hyp_ffa_version 0x10002; ran ffa\.c lines \d+/,
    );
    expect(t.out).toMatch(
      /▸ handle kvm_host_ffa_handler .*\n\s+ffa\.c 7\.3\.\d+ ran ffa\.c lines \d+(–\d+)?(, \d+(–\d+)?)*\n/,
    );
  }, 300_000);

  it('--sanitize and --coverage without --kernel are usage errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-kopt-'));
    expect(ffasim(['check', '--coverage'], dir)).toMatchObject({ code: 2 });
    expect(ffasim(['check', '--sanitize', 'address'], dir).err).toMatch(/--sanitize goes with --kernel/);
  });
});

describe.skipIf(t612 === undefined)('kernel mode CLI on Debian 6.12', () => {
  it('fuzz --kernel: a host-chosen EMAD offset makes the real 6.12 code read far past its mailbox (I6), replay reproduces it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-kfuzz612-'));
    // I3 is H16's known FFA_VERSION leak on 6.12: it would end nearly every sequence at its first call.
    const f = ffasim(
      [
        'fuzz',
        '--kernel',
        t612!,
        '--profile',
        'linux-6.12',
        '--ignore',
        'I3',
        '--runs',
        '60',
        '--json',
        '--out',
        'camp',
      ],
      dir,
    );
    expect(f.code, f.err).toBe(1);
    const j = JSON.parse(f.out) as { findings: { title: string; replay: string; class: string }[] };
    const hit = j.findings.find((x) =>
      /^I6: EL2 data abort: SIGSEGV, 0x[0-9a-f]+ bytes past the end of the hyp pages .* by __do_ffa_mem_xfer \(ffa\.c:\d+\)$/.test(
        x.title,
      ),
    );
    expect(hit, JSON.stringify(j.findings)).toBeDefined();
    // The host alone does it: no lie was told (an honest SPMC), so it must hold whatever EL3 does.
    expect(hit!.class).toBe('holds-when-el3-lies');
    const md = readFileSync(join(dir, hit!.replay.replace(/\.jsonl$/, '.md')), 'utf8');
    expect(md).toMatch(/The secure world told no lie\./);
    expect(md).toMatch(/^\d+\. smc FFA_MEM_(SHARE|LEND)/m);
    const r = ffasim(['replay', hit!.replay, '--kernel', t612!], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/EL2 data abort: SIGSEGV, .* by __do_ffa_mem_xfer \(ffa\.c:\d+\) \(I6\)/);
  }, 300_000);

  it('check --kernel --coverage on the FF-A 1.1 proxy prints its coverage and writes lcov', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-kcov612-'));
    const c = ffasim(['check', '--kernel', t612!, '--profile', 'linux-6.12', '--coverage'], dir);
    const m =
      /coverage of arch\/arm64\/kvm\/hyp\/nvhe\/ffa\.c \(ffa\.c 6\.12\.\d+\): lines (\d+)\/(\d+)/.exec(c.out);
    expect(m, c.out + c.err).not.toBeNull();
    expect(Number(m![1]) / Number(m![2])).toBeGreaterThan(0.5);
    const lcov = readFileSync(join(dir, 'ffa-coverage.lcov'), 'utf8');
    expect(lcov).toMatch(new RegExp(`^LH:${m![1]}$`, 'm'));
  }, 300_000);
});
