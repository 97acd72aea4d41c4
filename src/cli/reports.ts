/**
 * CI report formats: JUnit XML (the schema Jenkins, GitLab and GitHub test reporters read) and TAP version 14.
 * Both writers take plain test cases, so `check` and `fuzz` share them; text is escaped so that any rule
 * statement, observed value or decoded call survives as data (XML-invalid control characters are dropped).
 */

/** One test case of a report. */
export interface ReportCase {
  /** Test name (a rule id, a finding). */
  name: string;
  /** Suite / class name (a profile, a campaign). */
  suite: string;
  /** Absent: passed. */
  failure?: { message: string; detail: string };
  /** Where the case does not apply (a skipped rule): reported as skipped, not passed. */
  skipped?: string;
  /** Key/value diagnostics (TAP's YAML block; JUnit's failure body holds the detail). */
  diag?: Record<string, string | number>;
  /** Seconds, when measured. */
  seconds?: number;
}

// XML 1.0 allows tab, LF, CR and U+0020 upwards (minus surrogates and U+FFFE/U+FFFF).
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is matched.
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/g;

function xml(s: string): string {
  return s
    .replace(XML_INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;'); // a parser normalises a raw CR to LF
}

/** An attribute value: also tab and LF as references (a parser normalises raw ones to spaces). */
function attr(s: string): string {
  return xml(s).replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

/** A JUnit XML document: one `<testsuite>` per suite, in first-seen order; `seconds`: the whole run's time. */
export function toJUnit(title: string, cases: readonly ReportCase[], o: { seconds?: number } = {}): string {
  const suites = new Map<string, ReportCase[]>();
  for (const c of cases) {
    const list = suites.get(c.suite) ?? [];
    list.push(c);
    suites.set(c.suite, list);
  }
  const count = (l: readonly ReportCase[]) => ({
    tests: l.length,
    failures: l.filter((c) => c.failure !== undefined).length,
    skipped: l.filter((c) => c.skipped !== undefined && c.failure === undefined).length,
  });
  // A whole-run duration (one fuzz campaign) stands for every suite; otherwise the cases' times add up.
  const secs = (l: readonly ReportCase[]) =>
    (o.seconds ?? l.reduce((t, c) => t + (c.seconds ?? 0), 0)).toFixed(3);
  const all = count(cases);
  let s = '<?xml version="1.0" encoding="UTF-8"?>\n';
  s += `<testsuites name="${attr(title)}" tests="${all.tests}" failures="${all.failures}" errors="0" skipped="${all.skipped}" time="${secs(cases)}">\n`;
  for (const [name, list] of suites) {
    const n = count(list);
    s += `  <testsuite name="${attr(name)}" tests="${n.tests}" failures="${n.failures}" errors="0" skipped="${n.skipped}" time="${secs(list)}">\n`;
    for (const c of list) {
      const head = `    <testcase name="${attr(c.name)}" classname="${attr(`${title}.${c.suite}`)}" time="${(c.seconds ?? 0).toFixed(3)}"`;
      if (c.failure !== undefined) {
        s += `${head}>\n      <failure message="${attr(c.failure.message)}" type="failure">${xml(c.failure.detail)}</failure>\n    </testcase>\n`;
      } else if (c.skipped !== undefined) {
        s += `${head}>\n      <skipped message="${attr(c.skipped)}"/>\n    </testcase>\n`;
      } else s += `${head}/>\n`;
    }
    s += '  </testsuite>\n';
  }
  return `${s}</testsuites>\n`;
}

/**
 * Characters a TAP line cannot carry as they are: NUL (TAP consumers stop at it), the other C0 and C1
 * controls but tab, DEL, and the Unicode line and paragraph separators (which line splitters treat as ends).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is matched.
export const TAP_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `\xNN` (or `\uNNNN` above 0xff): visible, and distinct from a written backslash, which is doubled. */
export function tapEscape(ch: string): string {
  const n = ch.charCodeAt(0);
  return n > 0xff ? `\\u${n.toString(16).padStart(4, '0')}` : `\\x${n.toString(16).padStart(2, '0')}`;
}

/** A TAP version 14 stream: a plan, one test point per case, YAML diagnostics under failures. */
export function toTAP(cases: readonly ReportCase[]): string {
  let s = `TAP version 14\n1..${cases.length}\n`;
  cases.forEach((c, i) => {
    // A test point's description may not contain '#' unescaped (it starts a directive).
    const desc = `${c.suite} ${c.name}`
      .replace(/\\/g, '\\\\')
      .replace(/#/g, '\\#')
      .replace(/[\r\n]+/g, ' ')
      .replace(TAP_UNSAFE, tapEscape);
    const skip =
      c.failure === undefined && c.skipped !== undefined
        ? ` # SKIP ${c.skipped.replace(/[\r\n]+/g, ' ').replace(TAP_UNSAFE, tapEscape)}`
        : '';
    s += `${c.failure === undefined ? 'ok' : 'not ok'} ${i + 1} - ${desc}${skip}\n`;
    // The diagnostics carry the detail's parts where the case has them; otherwise the detail itself.
    const diag = {
      ...(c.failure ? { message: c.failure.message, ...(c.diag ? {} : { detail: c.failure.detail }) } : {}),
      ...c.diag,
    };
    if (c.failure !== undefined && Object.keys(diag).length > 0) {
      s += '  ---\n';
      // JSON strings are valid YAML flow scalars: every value survives quoting and escaping.
      for (const [k, v] of Object.entries(diag))
        s += `  ${k}: ${typeof v === 'number' ? v : JSON.stringify(v)}\n`;
      s += '  ...\n';
    }
  });
  return s;
}
