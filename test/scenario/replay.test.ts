/**
 * Why this test? The replay format is ffasim's external contract (docs/replay.md): each malformed or out-of-range
 * line must be a located error, never a silent default or clamp — checked here beside the valid line it resembles.
 */
import { describe, expect, it } from 'vitest';
import { parseReplay, replayScenario, smcLine } from '../../src/scenario/replay.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { defaultWorldConfig } from '../../src/world/config.ts';

const ok = (text: string, world?: ReturnType<typeof defaultWorldConfig>) => {
  const r = parseReplay(text, 'f.jsonl', world === undefined ? {} : { world });
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const err = (text: string, world?: ReturnType<typeof defaultWorldConfig>) => {
  const r = parseReplay(text, 'f.jsonl', world === undefined ? {} : { world });
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.error;
};
const full = (x0: string) => JSON.stringify({ smc: [x0, ...Array<string>(17).fill('0x0')] });

describe('smc lines', () => {
  it('18 registers: no warning; fewer: the missing registers are 0, one warning per file', () => {
    expect(ok(full('0x84000063')).warnings).toEqual([]);
    const f = ok('{"smc": ["0x1"]}\n{"smc": ["0x84000063", "0x10002"]}\n');
    expect(f.actions[0]).toMatchObject({ kind: 'smc', regs: [1n] });
    expect(f.warnings).toEqual([
      'f.jsonl: 2 smc line(s) give fewer than 18 registers (first: line 1); the missing registers are 0 (docs/replay.md)',
    ]);
  });

  it('what ffasim writes gives all 18 registers, so its own files never warn', () => {
    const line = smcLine(RegisterFile.of([0x84000063, 0x10002]));
    expect(line.smc).toHaveLength(18);
    expect(line.smc.slice(1, 3)).toEqual(['0x0000000000010002', '0x0']);
    expect(ok(JSON.stringify(line)).warnings).toEqual([]);
  });

  it('"1_000" is a number; "_" and "0x_" are not', () => {
    expect(ok('{"smc": ["1_000"]}').actions[0]).toMatchObject({ regs: [1000n] });
    expect(err('{"smc": ["_"]}')).toMatch(/^f\.jsonl:1:2: x0: not a u64/);
    expect(err('{"smc": ["0x_"]}')).toMatch(/x0: not a u64/);
    expect(err('{"smc": [1.5]}')).toMatch(/x0: not a u64/);
    expect(err('{"smc": [-1]}')).toMatch(/x0: not a u64/);
    expect(err('{"smc": [18446744073709551615]}')).toMatch(/x0: not a u64/); // unsafe JSON number
  });

  it('cpu below the world CPU count; at or past it is an error', () => {
    expect(ok('{"smc": [1], "cpu": 1}').actions[0]).toMatchObject({ cpu: 1 });
    expect(err('{"smc": [1], "cpu": 2}')).toBe('f.jsonl:1:14: cpu 2: the world has 2 CPU(s) (cpu 0..1)');
    expect(ok('{"world": {"cpus": 4}}\n{"smc": [1], "cpu": 3}').actions).toHaveLength(1);
    expect(err('{"smc": [1], "cpu": 3}', { ...defaultWorldConfig(), cpus: 3 })).toMatch(
      /cpu 3: the world has 3/,
    );
  });
});

describe('state lines', () => {
  it('a query inside the IPA space; one past it is a located error, not a clamp', () => {
    expect(ok('{"state": {"addr": "0x0", "pages": 268435456}}').actions[0]).toMatchObject({ pages: 2 ** 28 });
    expect(err('{"state": {"addr": "0x0", "pages": 4294967295}}')).toBe(
      "f.jsonl:1:27: state.pages 4294967295 from 0x0 runs past the world's 40-bit IPA space (at most 268435456 pages of 4096 bytes from there)",
    );
    expect(err('{"state": {"addr": "0x10000000000"}}')).toMatch(/:1:12: state\.addr 0x10000000000 is past/);
    // The world it runs in decides: --world (opts.world) over the header.
    const small = { ...defaultWorldConfig(), ipaBits: 32 };
    expect(err('{"state": {"addr": "0x80000000", "pages": 524289}}', small)).toMatch(/32-bit IPA space/);
    expect(err('{"world": {"pageSize": 65536}}\n{"state": {"addr": "0x1000"}}')).toMatch(
      /^f\.jsonl:2:12: state\.addr 0x1000 is not aligned to the page size 65536/,
    );
  });

  it('pages defaults to 1; 0 pages, unknown keys and unaligned addresses are errors', () => {
    expect(ok('{"state": {"addr": "0x88000000"}}').actions[0]).toMatchObject({ pages: 1 });
    expect(err('{"state": {"addr": "0x88000000", "pages": 0}}')).toMatch(
      /:1:34: state\.pages must be a positive/,
    );
    expect(err('{"state": {"addr": "0x88000000", "page": 4}}')).toBe(
      "f.jsonl:1:34: unknown key 'page' in state (known: addr, pages)",
    );
    expect(err('{"state": {"addr": "0x88000010"}}')).toMatch(/not aligned to the page size 4096/);
  });
});

describe('write and read lines', () => {
  it('known keys only', () => {
    expect(ok('{"write": {"addr": 0, "hex": "00"}}\n{"read": {"addr": 0, "len": 1}}').actions).toHaveLength(
      2,
    );
    expect(err('{"write": {"addr": 0, "hex": "00", "len": 1}}')).toMatch(
      /unknown key 'len' in write \(known: addr, hex\)/,
    );
    expect(err('{"read": {"addr": 0, "length": 1}}')).toMatch(/unknown key 'length' in read/);
  });
});

describe('the header line', () => {
  it('one header with a known profile and changes; a second header, unknown names are errors', () => {
    expect(ok('{"profile": "linux-6.6", "with": ["range-validation"]}\n{"smc": [1]}').profile).toBe(
      'linux-6.6',
    );
    expect(err('{"profile": "ffa-1.2"}\n{"profile": "linux-6.6"}\n{"smc": [1]}')).toMatch(
      /^f\.jsonl:2:1: a second world\/profile line/,
    );
    expect(err('{"profile": "ffa12"}')).toMatch(/^f\.jsonl:1:2: unknown profile 'ffa12' \(known: linux-6\.6/);
    expect(err('{"profile": "ffa-1.2", "without": ["nope"]}')).toMatch(
      /:1:24: without: unknown change 'nope'/,
    );
  });
});

describe('empty files', () => {
  it('parse to no actions (the commands make that an error unless --allow-empty)', () => {
    expect(ok('').actions).toEqual([]);
    expect(ok('# a comment\n{"profile": "ffa-1.2"}\n\n').actions).toEqual([]);
    const s = replayScenario('', 'e.jsonl');
    expect(s.ok && s.file.actions.length).toBe(0);
  });
});
