/** The `ffasim` command end to end: formats, exit codes, located errors (spawned like a user runs it). */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function ffasim(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'ffasim-cli-'));

describe('ffasim run', () => {
  it('boot: text trace, summary, exit 0', () => {
    const r = ffasim(['run', 'boot']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/FFA_MSG_SEND_DIRECT_REQ2 .*\n.*deny-list/);
    expect(r.out).toMatch(/boot: 13\/13 expectations held/);
  });

  it('jsonl: a header with schema ffasim-trace/1, then parseable events with 18 registers per hop', () => {
    const r = ffasim(['run', 'boot', '--format', 'jsonl']);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ schema: 'ffasim-trace/1', profile: 'ffa-1.2', scenario: 'boot' });
    const hops = lines.filter((l) => l.kind === 'hop');
    expect(hops.length).toBeGreaterThan(50);
    for (const h of hops) expect((h.regs as string[]).every((x) => /^0x[0-9a-f]{16}$/.test(x))).toBe(true);
    const seqs = lines.slice(1).map((l) => l.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // Determinism: same input, byte-identical output.
    expect(ffasim(['run', 'boot', '--format', 'jsonl']).out).toBe(r.out);
  });

  it('mermaid: a sequenceDiagram with one arrow per hop', () => {
    const m = ffasim(['run', 'boot', '--format', 'mermaid']);
    const j = ffasim(['run', 'boot', '--format', 'jsonl']);
    expect(m.code).toBe(0);
    const lines = m.out.trim().split('\n');
    expect(lines[0]).toBe('sequenceDiagram');
    const arrows = lines.filter((l) => /^ {2}\w+-{1,2}>>\w+: /.test(l));
    const hops = j.out
      .trim()
      .split('\n')
      .filter((l) => l.includes('"kind":"hop"'));
    expect(arrows.length).toBe(hops.length);
    expect(lines.filter((l) => l.startsWith('  participant ')).map((l) => l.split(' ')[3])).toEqual([
      'host',
      'hyp',
      'spmd',
      'spmc',
      'sp_0x8001',
    ]);
  });

  it('perfetto: Chrome trace-event JSON, one slice per hop, nested per track, one flow per host call', () => {
    const r = ffasim(['run', 'boot', '--format', 'perfetto']);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.out) as {
      traceEvents: {
        ph: string;
        pid: number;
        tid: number;
        ts?: number;
        dur?: number;
        bind_id?: number;
        args?: Record<string, unknown>;
      }[];
    };
    const slices = t.traceEvents.filter((e) => e.ph === 'X');
    const j = ffasim(['run', 'boot', '--format', 'jsonl']);
    const calls = j.out
      .trim()
      .split('\n')
      .filter((l) => l.includes('"kind":"hop"') && l.includes('"dir":"call"'));
    expect(slices.length).toBe(calls.length);
    expect(slices.every((s) => typeof s.args?.call === 'string' && typeof s.args?.result === 'string')).toBe(
      true,
    );
    // Strict nesting per track: any two slices on one (pid, tid) are disjoint or one contains the other.
    const byTrack = new Map<string, { a: number; b: number }[]>();
    for (const s of slices) {
      const k = `${s.pid}/${s.tid}`;
      byTrack.set(k, [...(byTrack.get(k) ?? []), { a: s.ts!, b: s.ts! + s.dur! }]);
    }
    for (const list of byTrack.values()) {
      for (const x of list)
        for (const y of list)
          if (x !== y)
            expect(x.b <= y.a || y.b <= x.a || (x.a <= y.a && y.b <= x.b) || (y.a <= x.a && x.b <= y.b)).toBe(
              true,
            );
    }
    const flows = new Set(slices.filter((s) => s.bind_id !== undefined).map((s) => s.bind_id));
    // Boot makes 12 host calls; DIRECT_REQ2 (call 10) is rejected by the hyp alone (one slice, no flow): 11 flows.
    expect(flows.size).toBe(11);
    const rejected = slices.filter((s) => (s.args as { host_call?: number } | undefined)?.host_call === 10);
    expect(rejected.length).toBe(1);
    expect(rejected[0]!.bind_id).toBeUndefined();
  });

  it('--explain names a change for every proxy decision', () => {
    const r = ffasim(['run', 'boot', '--explain']);
    const decisions = r.out.split('\n').filter((l) => l.includes('▸'));
    expect(decisions.length).toBeGreaterThan(5);
    for (const d of decisions) expect(d).toMatch(/\[(base|[a-z0-9-]+)\] \S/);
    expect(r.out).toMatch(/reject dispatch\/deny-list .*\[deny-ffa12-optional\]/);
  });

  it('on ffa-1.2-direct-msg DIRECT_REQ2 is delivered', () => {
    const r = ffasim(['run', 'boot', '--profile', 'ffa-1.2-direct-msg']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/DIRECT_REQ2 delivered/);
  });

  it('a failed expectation exits 1; unknown scenario/profile exit 2 with a message', () => {
    expect(ffasim(['run', 'boot', '--profile', 'linux-6.6']).code).toBe(1);
    const u = ffasim(['run', 'nope']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown scenario 'nope'/);
    const p = ffasim(['run', 'boot', '--profile', 'linux-9']);
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/unknown profile/);
    expect(p.err).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('a name that selects nothing: exit 2 with the closest names (did you mean …)', () => {
    const cases: [string[], RegExp][] = [
      [['run', 'boto'], /unknown scenario 'boto' \(did you mean 'boot'\?\)/],
      [['run', 'boot', '--profile', 'ffa12'], /unknown profile 'ffa12' \(did you mean 'ffa-1\.2'\?\)/],
      [
        ['run', 'boot', '--with', 'range-validaton'],
        /--with: unknown change 'range-validaton' \(did you mean 'range-validation'\?\)/,
      ],
      [
        ['run', 'boot', '--profile', 'linux-6.6,ffa1.2'],
        /unknown profile 'ffa1\.2' \(did you mean 'ffa-1\.2'\?\)/,
      ],
      [
        ['profiles', '--diff', 'linux-6.13', 'ffa-1.2'],
        /unknown profile 'linux-6\.13' \(did you mean 'linux-6\.10', 'linux-6\.11', 'linux-6\.12'/,
      ],
    ];
    for (const [args, msg] of cases) {
      const r = ffasim(args);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.err).toMatch(msg);
    }
  });

  it('a scenario module is checked: a misspelt key or an unknown profile is exit 2 naming the module', () => {
    const good = join(dir, 'good.mjs');
    writeFileSync(good, "export default { name: 'g', description: 'd', profile: 'linux-6.6', run() {} };\n");
    const g = ffasim(['run', good]);
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/profile linux-6\.6/);
    const typo = join(dir, 'typo.mjs');
    writeFileSync(typo, "export default { name: 't', description: 'd', proflie: 'linux-6.6', run() {} };\n");
    const t = ffasim(['run', typo]);
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/typo\.mjs: scenario unknown key 'proflie' \(did you mean 'profile'\?\)/);
    writeFileSync(typo, "export default { name: 't', description: 'd', profile: 'linux-6.7', run() {} };\n");
    expect(ffasim(['run', typo]).err).toMatch(/scenario profile: unknown profile 'linux-6\.7'/);
  });

  it("an explicit --profile ffa-1.2 wins over the scenario's own profile", () => {
    expect(ffasim(['run', 'h6']).out.split('\n')[0]).toMatch(/profile linux-6\.11/);
    expect(ffasim(['run', 'h6', '--profile', 'ffa-1.2']).out.split('\n')[0]).toMatch(/profile ffa-1\.2 /);
  });

  it('--seed: an integer in 0..2^32-1 (decimal or 0x); garbage is exit 2; ignored options are errors', () => {
    expect(ffasim(['run', 'boot', '--seed', '0x10']).code).toBe(0);
    for (const seed of ['abc', '-1', '1.5', '', '4294967296']) {
      const r = ffasim(['run', 'boot', '--seed', seed]);
      expect([seed, r.code]).toEqual([seed, 2]);
      expect(r.err).toMatch(`--seed must be an integer in 0..4294967295, got '${seed}'`);
    }
    const cases: [string[], RegExp][] = [
      [['run', 'boot', '--explain', '--format', 'jsonl'], /--explain work with --format text only/],
      [['run', 'boot', '--profile', 'all', '--format', 'jsonl'], /prints a comparison .*drop --format jsonl/],
      [['run', '--list', 'boot2'], /--list lists the built-in scenarios: give it no scenario/],
      [['run', 'boot', '--sanitize', 'address'], /--sanitize goes with --kernel/],
    ];
    for (const [args, msg] of cases) {
      const r = ffasim(args);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.err).toMatch(msg);
    }
  });
});

describe('ffasim replay', () => {
  it('examples/share-reclaim.jsonl: one JSON line per action, byte-identical on re-run', () => {
    const r = ffasim(['replay', 'examples/share-reclaim.jsonl']);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(7);
    expect((lines[3]!.regs as string[])[2]).toBe('0x0000000000000001');
    expect(lines[4]!.state).toEqual([
      { addr: '0x88100000', pages: 1, host: 'SHARED_OWNED', hyp: 'NOPAGE', owner: 'host', region: 'ram' },
    ]);
    expect((lines[6]!.state as { host: string }[])[0]!.host).toBe('OWNED');
    expect(ffasim(['replay', 'examples/share-reclaim.jsonl']).out).toBe(r.out);
    expect(r.err).toBe(''); // all 18 registers on every smc line: no note
  });

  it('an empty file is exit 2 "no actions in FILE" (replay, run, view) unless --allow-empty', () => {
    const f = join(dir, 'empty.jsonl');
    for (const text of ['', '# only a comment\n{"profile": "ffa-1.2"}\n\n']) {
      writeFileSync(f, text);
      for (const cmd of [['replay'], ['run'], ['view', '--report', join(dir, 'e.html')]]) {
        const r = ffasim([...cmd, f]);
        expect([cmd, r.code]).toEqual([cmd, 2]);
        expect(r.err).toMatch(/^ffasim: no actions in .*empty\.jsonl .*--allow-empty/);
      }
      const ok = ffasim(['replay', f, '--allow-empty']);
      expect([ok.code, ok.out, ok.err]).toEqual([0, '', '']);
    }
    const stdin = ffasim(['replay', '-'], '');
    expect(stdin.code).toBe(2);
    expect(stdin.err).toMatch(/no actions in stdin/);
  });

  it('short register arrays: the missing registers are 0, one warning per file on stderr', () => {
    const f = join(dir, 'short.jsonl');
    writeFileSync(f, '{"smc": ["0x1"]}\n{"smc": ["0x84000063", "0x10002"]}\n');
    const r = ffasim(['replay', f]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(2);
    expect(r.err).toBe(
      `ffasim: warning: ${f}: 2 smc line(s) give fewer than 18 registers (first: line 1); the missing registers are 0 (docs/replay.md)\n`,
    );
    expect(ffasim(['run', f, '--format', 'jsonl']).err).toMatch(/^ffasim: warning: .*2 smc line\(s\)/);
  });

  it('a page-state query past the world is a located error, not a clamp; --world decides', () => {
    const f = join(dir, 'pages.jsonl');
    writeFileSync(f, '{"state": {"addr": "0x0", "pages": 268435456}}\n');
    expect(ffasim(['replay', f]).code).toBe(0);
    writeFileSync(f, '{"state": {"addr": "0x0", "pages": 4294967295}}\n');
    const r = ffasim(['replay', f]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /pages\.jsonl:1:27: state\.pages 4294967295 from 0x0 runs past the world's 40-bit IPA space/,
    );
    expect(r.out).toBe('');
    const w = join(dir, 'ipa32.json');
    writeFileSync(w, '{"ipaBits": 32, "guest": []}');
    writeFileSync(f, '{"state": {"addr": "0x80000000", "pages": 524289}}\n');
    expect(ffasim(['replay', f]).code).toBe(0);
    expect(ffasim(['replay', f, '--world', w]).err).toMatch(
      /pages\.jsonl:1:34: state\.pages 524289 from 0x80000000 runs past the world's 32-bit IPA space/,
    );
  });

  it('bad files: FILE:LINE:COLUMN message, exit 2, nothing run', () => {
    const f = join(dir, 'bad.jsonl');
    writeFileSync(f, '{"smc": ["0x84000063"]}\n\n{"smc": ["0x84000063", "0x1g"]}\n');
    const r = ffasim(['replay', f]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.jsonl:3:2: x1: not a u64/);
    expect(r.out).toBe('');
    writeFileSync(f, '{"smc": [1]}\n{"world": {"pageSize": 1000}}\n');
    expect(ffasim(['replay', f]).err).toMatch(/:2:1: the world\/profile line must come before/);
    writeFileSync(f, '{"world": {"pagesize": 4096}}\n');
    expect(ffasim(['replay', f]).err).toMatch(/world\.pagesize: unknown key/);
    writeFileSync(f, '{"state": {"addr": "0x88000000", "page": 4}}\n');
    expect(ffasim(['replay', f]).err).toMatch(/:1:34: unknown key 'page' in state \(known: addr, pages\)/);
    writeFileSync(f, '{"profile": "ffa12"}\n{"smc": [1]}\n');
    expect(ffasim(['replay', f]).err).toMatch(/:1:2: unknown profile 'ffa12'/);
  });

  it('a write the host stage-2 would fault on is reported and changes nothing', () => {
    const f = join(dir, 'fault.jsonl');
    writeFileSync(
      f,
      '{"write": {"addr": "0xf0000000", "hex": "00ff"}}\n{"read": {"addr": "0x09000000", "len": 4}}\n',
    );
    const r = ffasim(['replay', f]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/"error":"host stage-2 fault at 0xf0000000 \(ram, NOPAGE:guest\)"/);
    expect(r.out).toMatch(/"error":"host stage-2 fault at 0x9000000 \(mmio/);
  });
});

describe('ffasim decode', () => {
  it('the README examples', () => {
    const input = [
      '{"call": ["0x84000063", "0x10002"], "ret": ["0x10002"]}',
      '{"call": ["0xc4000073", 112, 112], "ret": ["0x84000061", 0, 1, 0]}',
      'x0=0xc400008d x1=0x8001 x2=0x12efcdab78563412 x3=0x00efcdab90785634 x4=0x7',
      '{"call": ["0x84000077", 1, 0, 0], "ret": ["0x84000060", 0, "0xfffffffa"]}',
    ].join('\n');
    const r = ffasim(['decode', '-'], input);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/FFA_VERSION requested=1\.2\n {2}→ FFA_VERSION → 1\.2/);
    expect(r.out).toMatch(/FFA_MEM_SHARE_64 .*\n {2}→ FFA_SUCCESS handle=0x1/);
    expect(r.out).toMatch(
      /FFA_MSG_SEND_DIRECT_REQ2 0x0→0x8001 uuid=12345678-abcd-ef12-3456-7890abcdef00 payload=\[0x7\]/,
    );
    expect(r.out).toMatch(/→ FFA_ERROR DENIED \(-6\)/);
    const j = ffasim(['decode', '--json', '-'], input);
    expect(
      j.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { call: { name: string } })
        .map((o) => o.call.name),
    ).toEqual(['FFA_VERSION', 'FFA_MEM_SHARE', 'FFA_MSG_SEND_DIRECT_REQ2', 'FFA_MEM_RECLAIM']);
  });

  it('bad input: line and column, exit 2, no stack trace', () => {
    const r = ffasim(['decode', '-'], '["0x84000063"]\nx0=0x84000063 x99=1\n');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/stdin:2:15: register x99 does not exist/);
    const u = ffasim(['decode', '-'], '["0x_"]\n');
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/stdin:1:1: x0: not a u64/);
  });

  it('empty input is exit 2 "no register lines" unless --allow-empty; --count needs a partition-info descriptor', () => {
    for (const input of ['', '# a comment\n\n']) {
      const r = ffasim(['decode'], input);
      expect([r.code, r.out]).toEqual([2, '']);
      expect(r.err).toMatch(/no register lines in stdin .*--allow-empty/);
      expect(ffasim(['decode', '--allow-empty'], input).code).toBe(0);
    }
    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, '');
    expect(ffasim(['decode', '--descriptor', empty]).err).toMatch(/no bytes in .*empty\.bin/);
    expect(ffasim(['decode', '--count', '3'], '["0x84000063"]').err).toMatch(
      /--count goes with --descriptor FILE --kind partition-info/,
    );
    expect(
      ffasim(['decode', '--descriptor', empty, '--kind', 'partition-info', '--count', '1.5']).err,
    ).toMatch(/--count must be an integer in 0\.\.2\^32-1, got '1\.5'/);
  });

  it('--descriptor decodes v1.0, v1.1 and v1.2 transaction descriptors (hex text)', () => {
    const v12 =
      '0580 2f00 00000000 efcdab9078563412 efbe0000adde0000 20000000 01000000 30000000 000000000000000000000000' +
      ' 03800200 50000000 00000000000000000000000000000000 0000000000000000 01000000 01000000 0000000000000000' +
      ' 00f0104000000000 01000000 00000000';
    const f = join(dir, 'v12.hex');
    writeFileSync(f, v12);
    const r = ffasim(['decode', '--descriptor', f, '--ffa-version', '1.2']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/emad\[0\]\.composite_off\s+0x50/);
    expect(r.out).toMatch(/constituent\[0\]\.address\s+0x4010f000/);
    for (const [v, hex] of [
      [
        '1.1',
        '0000 2f00 00000000 0000000000000000 0000000000000000 10000000 01000000 30000000 000000000000000000000000 01800200 40000000 0000000000000000 01000000 01000000 0000000000000000 0010000000000000 01000000 00000000',
      ],
      [
        '1.0',
        '0000 2f 00 00000000 0000000000000000 0000000000000000 00000000 01000000 01800200 30000000 0000000000000000 01000000 01000000 0000000000000000 0010000000000000 01000000 00000000',
      ],
    ] as const) {
      const g = join(dir, `v${v}.hex`);
      writeFileSync(g, hex);
      const d = ffasim(['decode', '--descriptor', g, '--ffa-version', v]);
      expect(d.code).toBe(0);
      expect(d.out).toMatch(/constituent\[0\]\.address\s+0x1000/);
    }
  });

  it('--strict --descriptor: a misaligned EMAD offset fails naming the rule and the field; lenient it decodes', () => {
    // A v1.2 share whose EMAD array sits at 56 (≥ the 48-byte header, but not 16-aligned); composite at 96.
    const b = new Uint8Array(128);
    const v = new DataView(b.buffer);
    v.setUint16(0, 0x8005, true);
    v.setUint16(2, 0x2f, true);
    v.setUint32(24, 32, true);
    v.setUint32(28, 1, true);
    v.setUint32(32, 56, true);
    v.setUint16(56, 0x8003, true);
    v.setUint8(58, 2);
    v.setUint32(60, 96, true);
    v.setUint32(96, 1, true);
    v.setUint32(100, 1, true);
    v.setBigUint64(112, 0x4010f000n, true);
    v.setUint32(120, 1, true);
    const f = join(dir, 'misaligned.bin');
    writeFileSync(f, b);
    const strict = ffasim(['decode', '--descriptor', f, '--kind', 'mem-send', '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.out).toMatch(
      /error DESC_MISALIGNED \(desc\/emad-offset-align\): bytes 32\.\.35 \(header\.ep_mem_offset\): EMAD offset must be 16-byte aligned; expected multiple of 16, got 56/,
    );
    const j = JSON.parse(ffasim(['decode', '--descriptor', f, '--strict', '--json']).out) as {
      error: { rule: string; at: { offset: number } };
    };
    expect(j.error).toMatchObject({ rule: 'desc/emad-offset-align', at: { offset: 32 } });
    const lenient = ffasim(['decode', '--descriptor', f, '--kind', 'mem-send']);
    expect(lenient.code).toBe(0);
    expect(lenient.out).toMatch(/constituent\[0\]\.address\s+0x4010f000/);
  });

  it('--strict on register lines: a call rule and an answer rule read with its call, each with its id', () => {
    const input = [
      '["0x84000063", "0x80010002"]',
      '{"call": ["0x84000064", "0x84000066"], "ret": ["0x84000061", 0, 4]}',
    ].join('\n');
    const r = ffasim(['decode', '--strict', '-'], input);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /FFA_VERSION .*cannot decode: x1\[31:31\].*\[CALL_MBZ_NONZERO call\/undefined-bits\]/,
    );
    expect(r.out).toMatch(/→ cannot decode: x2\[2:2\].*\[RESULT_MBZ_NONZERO ret\/features\]/);
    const j = ffasim(['decode', '--strict', '--json', '-'], input)
      .out.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { callError?: { rule: string }; ret?: { error?: { rule: string } } });
    expect([j[0]!.callError?.rule, j[1]!.ret?.error?.rule]).toEqual(['call/undefined-bits', 'ret/features']);
    // Lenient: both decode.
    expect(ffasim(['decode', '-'], input).out).not.toMatch(/cannot decode/);
  });
});

describe('ffasim check and fuzz', () => {
  it('check: the matrix over every profile passes; --without a seed change fails naming the rule (exit 1)', () => {
    const all = ffasim(['check', '--profile', 'all', '--rule', 'acs/']);
    expect(all.code).toBe(0);
    expect(all.out.split('\n')[0]).toMatch(
      /6\.6\s+6\.10\s+6\.11\s+6\.12\s+v9\s+ffa-1\.2\s+hardened\s+7\.3\s+direct-msg/,
    );
    const broken = ffasim(['check', '--without', 'version-downgrade-reject', '--rule', 'acs/']);
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(/FAIL {2}acs\/ffa_version_negotiation/);
    expect(broken.out).toMatch(/\d+ passed, 1 failed/);
  });

  it('check --rule that selects nothing is exit 2 with the closest prefixes, never "0 passed, 0 failed"', () => {
    const z = ffasim(['check', '--rule', 'zzz']);
    expect(z.code).toBe(2);
    expect(z.out).toBe('');
    expect(z.err).toMatch(/--rule: unknown rule prefix 'zzz'; rule ids start with fid\/, acs\//);
    expect(ffasim(['check', '--rule', 'asc/']).err).toMatch(/did you mean 'acs\/'\?/);
    expect(ffasim(['check', '--rule', 'acs/ffa_verison']).err).toMatch(/did you mean 'acs\/ffa_version'\?/);
    const na = ffasim(['check', '--rule', 'acs/ffa_version_negotiation', '--profile', 'linux-6.6']);
    expect(na.code).toBe(2);
    expect(na.err).toMatch(/the rules it selects do not apply to profile linux-6\.6 \(try --profile all\)/);
    expect(ffasim(['check', '--rule', 'acs/ffa_version_negotiation', '--profile', 'linux-6.11']).code).toBe(
      0,
    );
    const j = ffasim(['check', '--json', '--format', 'junit']);
    expect(j.code).toBe(2);
    expect(j.err).toMatch(/--json is --format json: it does not go with --format junit/);
  });

  it('fuzz: garbage numbers, unknown invariants and quirks are exit 2 with suggestions', () => {
    const cases: [string[], RegExp][] = [
      [['--runs', 'abc'], /--runs must be a positive integer, got 'abc'/],
      [['--runs', '-3'], /--runs must be a positive integer/],
      [['--runs', '1.5'], /--runs must be a positive integer/],
      [['--runs', '0'], /--runs must be a positive integer/],
      [['--time', 'Infinity'], /--time must be a positive number of seconds, got 'Infinity'/],
      [['--time', '-1'], /--time must be a positive number/],
      [['--seed', ''], /--seed must be an integer in 0\.\.4294967295, got ''/],
      [['--ignore', 'i3'], /--ignore: unknown invariant 'i3' \(did you mean 'I3'/],
      [['--ignore', 'I1,I2,I3,I4,I5,I6,I7'], /--ignore names every invariant/],
      [
        ['--spmc-quirks', 'retrieve-shrt'],
        /unknown SPMC quirk 'retrieve-shrt' \(did you mean 'retrieve-short'\?\)/,
      ],
      [['--json', '--format', 'junit'], /--json is --format json/],
      [['--spmc', 'hostle'], /--spmc: unknown SPMC mode 'hostle' \(did you mean 'hostile'\?\)/],
      [['--calls', 'x'], /--calls must be a positive integer, got 'x'/],
      [['--resume'], /--resume: .*never[\\/]state\.json does not exist/],
    ];
    for (const [args, msg] of cases) {
      const r = ffasim(['fuzz', '--out', join(dir, 'never'), ...args]);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.err).toMatch(msg);
    }
  }, 60_000);

  it('fuzz --out DIR: distinct findings as replay files `replay` accepts, a report each, and --resume', () => {
    const out = join(dir, 'campaign');
    const args = ['fuzz', '--profile', 'ffa-1.2-hardened', '--spmc-quirks', 'share-success64', '--out', out];
    const r = ffasim([...args, '--runs', '100']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\| 001 \| I1 \| presupposes-honest-spmc \|/);
    const rep = ffasim(['replay', join(out, 'finding-001.jsonl')]);
    expect(rep.code).toBe(0);
    expect(readFileSync(join(out, 'finding-001.md'), 'utf8')).toMatch(/## |What broke:\*\* I1/);
    // Not empty: a second campaign there is refused; --resume continues it to 150 sequences.
    expect(ffasim([...args, '--runs', '150']).err).toMatch(/not empty — pass --resume/);
    const again = ffasim([...args, '--runs', '150', '--resume', '--json']);
    expect(JSON.parse(again.out).runs).toBe(150);
    writeFileSync(join(out, 'state.json'), '{"schema": "ffasim-campaign/1"');
    expect(ffasim([...args, '--runs', '200', '--resume']).err).toMatch(/state\.json is not valid JSON/);
    expect(ffasim(['fuzz', '--spmc-quirks', 'nope']).code).toBe(2);
    expect(ffasim(['fuzz', '--out', join(dir, 'x.jsonl')]).err).toMatch(/names a campaign directory/);
  });

  it('fuzz without --out writes nothing and prints the shrunk replay with a hint', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ffasim-cwd-'));
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        join(process.cwd(), 'src/cli/main.ts'),
        'fuzz',
        '--profile',
        'ffa-1.2-hardened',
        '--spmc-quirks',
        'share-success64',
        '--runs',
        '64',
        '-q',
      ],
      { encoding: 'utf8', cwd, env: { ...process.env, NO_COLOR: '1' } },
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/nothing was written: pass --out DIR/);
    expect(r.stdout).toMatch(/# ffasim fuzz finding: I1/);
    expect(r.stderr).toBe('');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('ffasim profiles', () => {
  it('lists profiles and changes', () => {
    const r = ffasim(['profiles']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ffa-1\.2 \(default\)/);
    expect(r.out).toMatch(/smccc12-retval-all/);
  });
});

describe('ffasim view', () => {
  it('--report writes one self-contained HTML file with the trace embedded', () => {
    const out = join(dir, 'report.html');
    const r = ffasim(['view', 'share-lend-reclaim', '--report', out]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/wrote .*report\.html \(\d+ bytes, self-contained\)/);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/window\.__FFASIM_REPORT__ = \{"trace":"H4sI/); // base64 of a gzip stream
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  });

  it('serves on 127.0.0.1 and prints the URL; bad input names what and where', async () => {
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'view',
      'boot',
      '--port',
      '0',
    ]);
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /ffasim view: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(buf);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    try {
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<div id="app">/);
      const trace = await fetch(new URL('/trace.jsonl', url));
      expect((await trace.text()).split('\n')[0]).toMatch(/"schema":"ffasim-trace\/1"/);
      // An encoded ../ that the URL parser does not fold: still nothing outside the bundle folder.
      const status = await new Promise<number>((resolve) => {
        get(
          { host: '127.0.0.1', port: new URL(url).port, path: '/assets/..%2f..%2f..%2fpackage.json' },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
      });
      expect(status).toBe(404);
      // Malformed paths, folders and foreign Host headers get an answer, and the server stays up.
      const ask = (path: string, host?: string) =>
        new Promise<number>((resolve) => {
          const u = new URL(url);
          get({ host: '127.0.0.1', port: u.port, path, ...(host ? { headers: { host } } : {}) }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
        });
      expect(await ask('/%')).toBe(400);
      expect(await ask('/assets')).toBe(404);
      expect(await ask('/', 'evil.example:80')).toBe(421);
      expect(await ask('/')).toBe(200);
    } finally {
      child.kill();
    }
    const bad = ffasim(['view', join(dir, 'missing.jsonl')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/cannot read .*missing\.jsonl: ENOENT/);
    const port = ffasim(['view', 'boot', '--port', '99999']);
    expect(port.code).toBe(2);
    expect(port.err).toMatch(/--port must be 0–65535/);
    for (const p of ['', '1.0', 'abc', '-1'])
      expect(ffasim(['view', 'boot', '--port', p, '--report', join(dir, 'p.html')]).err).toMatch(
        `--port must be 0–65535 (0: any free port), got '${p}'`,
      );
    const trace = join(dir, 'boot.trace.jsonl');
    writeFileSync(trace, ffasim(['run', 'boot', '--format', 'jsonl']).out);
    expect(ffasim(['view', trace, '--report', join(dir, 't.html')]).code).toBe(0);
    const recorded = ffasim(['view', trace, '--profile', 'linux-6.6', '--report', join(dir, 't.html')]);
    expect(recorded.code).toBe(2);
    expect(recorded.err).toMatch(/is a recorded trace, shown as recorded: --profile cannot change it/);
  }, 30_000);
});
