/**
 * CI report formats: `check --format junit|tap` and `fuzz --format junit`, parsed back with maintained parsers
 * (fast-xml-parser, tap-parser); counts must equal the verdicts, and any text survives escaping.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { type FinalResults, Parser } from 'tap-parser';
import { describe, expect, it } from 'vitest';
import { type ReportCase, TAP_UNSAFE, tapEscape, toJUnit, toTAP } from '../../src/cli/reports.ts';
import { PROFILES } from '../../src/hyp/profiles.ts';

function ffasim(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  htmlEntities: true, // numeric character references (&#10;) as XML defines them
  isArray: (n) => n === 'testsuite' || n === 'testcase',
});
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is matched.
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/g;

interface JUnitCase {
  name: string;
  classname: string;
  failure?: { message: string; '#text'?: string };
  skipped?: unknown;
}
interface JUnitDoc {
  testsuites: {
    tests: string;
    failures: string;
    skipped: string;
    testsuite: { name: string; tests: string; failures: string; testcase: JUnitCase[] }[];
  };
}

function parseJUnit(text: string): JUnitDoc {
  expect(XMLValidator.validate(text)).toBe(true);
  return xml.parse(text) as JUnitDoc;
}

function parseTAP(text: string): FinalResults {
  let final: FinalResults | undefined;
  const p = new Parser({ passes: true }, (r) => {
    final = r;
  });
  p.end(text);
  expect(final).toBeDefined();
  return final!;
}

/** The JSON verdicts of the same check run, to compare counts against. */
function verdicts(args: string[]): {
  passed: number;
  failed: number;
  results: { id: string; pass: boolean; profile: string }[];
} {
  const r = ffasim(['check', ...args, '--format', 'json']);
  return JSON.parse(r.out);
}

describe('check --format junit', () => {
  it('one testcase per verdict, failures named, counts equal the JSON verdicts', () => {
    const args = ['--without', 'version-downgrade-reject'];
    const v = verdicts(args);
    expect(v.failed).toBeGreaterThan(0);
    const r = ffasim(['check', ...args, '--format', 'junit']);
    expect(r.code).toBe(1);
    const doc = parseJUnit(r.out);
    expect(Number(doc.testsuites.tests)).toBe(v.passed + v.failed);
    expect(Number(doc.testsuites.failures)).toBe(v.failed);
    const cases = doc.testsuites.testsuite.flatMap((s) => s.testcase);
    expect(cases.length).toBe(v.results.length);
    const failedIds = cases.filter((c) => c.failure !== undefined).map((c) => c.name);
    expect(failedIds).toEqual(v.results.filter((x) => !x.pass).map((x) => x.id));
    expect(failedIds).toContain('acs/ffa_version_negotiation');
    const f = cases.find((c) => c.name === 'acs/ffa_version_negotiation')!;
    expect(f.failure!.message).toMatch(/^expected NOT_SUPPORTED, then negotiated; observed/);
    expect(f.failure!['#text']).toMatch(/source: ACS/);
  });

  it('--profile all: a testsuite per profile, all passing, exit 0', () => {
    const v = verdicts(['--profile', 'all']);
    const r = ffasim(['check', '--profile', 'all', '--format', 'junit']);
    expect(r.code).toBe(0);
    const doc = parseJUnit(r.out);
    expect(doc.testsuites.testsuite.map((s) => s.name)).toEqual([
      ...new Set(v.results.map((x) => x.profile)),
    ]);
    expect(doc.testsuites.testsuite.length).toBe(PROFILES.length);
    expect(Number(doc.testsuites.tests)).toBe(v.results.length);
    expect(Number(doc.testsuites.failures)).toBe(0);
  });
});

describe('check --format tap', () => {
  it('TAP 14: a plan, one point per verdict, YAML diagnostics on failures; counts equal the verdicts', () => {
    const args = ['--without', 'version-downgrade-reject'];
    const v = verdicts(args);
    const r = ffasim(['check', ...args, '--format', 'tap']);
    expect(r.code).toBe(1);
    expect(r.out.startsWith('TAP version 14\n')).toBe(true);
    const t = parseTAP(r.out);
    expect(t.count).toBe(v.results.length);
    expect(t.plan.end).toBe(v.results.length);
    expect(t.pass).toBe(v.passed);
    expect(t.fail).toBe(v.failed);
    expect(t.ok).toBe(false);
    const f = t.failures.find((x) => 'name' in x && x.name.endsWith('acs/ffa_version_negotiation')) as
      | { diag: Record<string, unknown> }
      | undefined;
    expect(f?.diag.expected).toBe('NOT_SUPPORTED, then negotiated');
    expect(f?.diag.source).toMatch(/ACS/);
  });

  it('an all-passing run parses as ok', () => {
    const r = ffasim(['check', '--rule', 'err/', '--format', 'tap']);
    expect(r.code).toBe(0);
    const t = parseTAP(r.out);
    expect(t.ok).toBe(true);
    expect(t.fail).toBe(0);
    expect(t.count).toBeGreaterThan(5);
  });
});

describe('fuzz --format junit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ffasim-reports-'));

  it('a finding is a failed test case with the decoded sequence and the replay path', () => {
    const out = join(dir, 'campaign');
    const r = ffasim([
      'fuzz',
      '--ignore',
      'I3',
      '--spmc-quirks',
      'retrieve-short',
      '--out',
      out,
      '--format',
      'junit',
    ]);
    expect(r.code).toBe(1);
    const doc = parseJUnit(r.out);
    const cases = doc.testsuites.testsuite.flatMap((s) => s.testcase);
    expect(cases.map((c) => c.name)).toEqual(['I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7']);
    const failed = cases.filter((c) => c.failure !== undefined);
    expect(failed.map((c) => c.name)).toEqual(['I6']);
    expect(doc.testsuites.failures).toBe('1');
    expect(doc.testsuites.skipped).toBe('1'); // I3, ignored
    const body = failed[0]!.failure!['#text']!;
    expect(body).toMatch(/smc FFA_MEM_SHARE/);
    expect(body).toMatch(/smc FFA_MEM_RECLAIM handle=0x1/);
    expect(body).toContain(`replay file: ${join(out, 'finding-001.jsonl')}`);
  });

  it('a clean campaign is seven passing cases', () => {
    const r = ffasim([
      'fuzz',
      '--profile',
      'ffa-1.2-hardened',
      '--runs',
      '20',
      '--out',
      join(dir, 'none'),
      '--format',
      'junit',
    ]);
    expect(r.code).toBe(0);
    const doc = parseJUnit(r.out);
    expect(doc.testsuites.tests).toBe('7');
    expect(doc.testsuites.failures).toBe('0');
  });
});

describe('report writers', () => {
  // Random text, salted with what breaks naive writers: TAP directives, escapes, markup, line ends, NUL.
  const tricky = fc
    .array(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 12 }),
        fc.constantFrom(
          '# SKIP x',
          '# TODO later',
          '#',
          '\\',
          '\r\n',
          '<&>"\'',
          '\u0000',
          '\t',
          ']]>',
          '\u2028',
          '\u0085',
        ),
      ),
      { maxLength: 5 },
    )
    .map((parts) => parts.join(''));
  const caseArb = fc.record({
    name: tricky,
    suite: fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
      tricky.map((t) => `${t}x`),
    ),
    fail: fc.option(
      fc.record({ message: fc.string({ unit: 'binary' }), detail: fc.string({ unit: 'binary' }) }),
    ),
  });

  it('any names and messages (control characters, markup, #, newlines): valid XML and TAP, same counts', () => {
    fc.assert(
      fc.property(fc.array(caseArb, { minLength: 1, maxLength: 12 }), (raw) => {
        const cases: ReportCase[] = raw.map((c) => ({
          name: c.name,
          suite: c.suite,
          ...(c.fail === null ? {} : { failure: c.fail }),
        }));
        const failures = cases.filter((c) => c.failure !== undefined).length;
        const text = toJUnit('t', cases);
        // XML 1.0 has no way to carry these, escaped or not: they must be gone.
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is matched.
        expect(text).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/);
        const doc = parseJUnit(text);
        expect(Number(doc.testsuites.tests)).toBe(cases.length);
        expect(Number(doc.testsuites.failures)).toBe(failures);
        const clean = (x: string) => x.replace(XML_INVALID, '');
        expect(doc.testsuites.testsuite.flatMap((st) => st.testcase).map((c) => String(c.name))).toEqual(
          [...new Map(cases.map((c) => [c.suite, 0])).keys()].flatMap((suite) =>
            cases.filter((c) => c.suite === suite).map((c) => clean(c.name)),
          ),
        );
        const t = parseTAP(toTAP(cases));
        expect(t.count).toBe(cases.length);
        expect(t.fail).toBe(failures);
        expect(t.skip).toBe(0); // a '#' in a name must not become a directive
        // Each point's description comes back as written (newlines folded to spaces, controls as \\xNN).
        const names = [...(t.passes ?? []), ...t.failures]
          .map((r) => r as { id?: number; name?: string })
          .sort((a, b) => (a.id ?? 0) - (b.id ?? 0))
          .map((r) => r.name);
        expect(names).toEqual(
          cases.map((c) =>
            `${c.suite} ${c.name}`
              .replace(/[\r\n]+/g, ' ')
              .replace(TAP_UNSAFE, tapEscape)
              .trim(),
          ),
        );
      }),
      { numRuns: 300 },
    );
  });
});
