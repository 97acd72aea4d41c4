/**
 * The replay format (docs/replay.md) — ffasim's external contract: one JSON object per line, blank lines and
 * `#` comments ignored.
 *
 *   {"world": {…}, "profile": "ffa-1.2", "with": [], "without": []}   optional, first line only
 *   {"smc": [x0, x1, …], "cpu": 0}                                    a host SMC (missing registers 0, noted)
 *   {"write": {"addr": …, "hex": "…"}}                               a host memory write
 *   {"read": {"addr": …, "len": …}}                                  a host memory read
 *   {"state": {"addr": …, "pages": …}}                               a page-state query
 *
 * Values are numbers or 0x-hex / decimal strings. The whole file is validated before anything runs, against the
 * world it will run in (page-state queries inside its IPA space, `cpu` below its CPU count); errors name the line
 * and column. Output: one JSON line per action, in order.
 */
import { FFA } from '../ffa/ids.ts';
import { CHANGES, PROFILES } from '../hyp/profiles.ts';
import { assertU64, RegisterFile } from '../smccc/regs.ts';
import { defaultWorldConfig, parseWorldConfig, type WorldConfig } from '../world/config.ts';
import type { World } from '../world/world.ts';
import type { Scenario } from './scenario.ts';

export type ReplayAction =
  | { kind: 'smc'; line: number; regs: bigint[]; cpu: number }
  | { kind: 'write'; line: number; addr: number; bytes: Uint8Array }
  | { kind: 'read'; line: number; addr: number; len: number }
  | { kind: 'state'; line: number; addr: number; pages: number };

export interface ReplayFile {
  world?: WorldConfig;
  profile?: string;
  with: string[];
  without: string[];
  actions: ReplayAction[];
  /** What was accepted but is worth a note (one per file: `smc` lines with fewer than 18 registers). */
  warnings: string[];
}

/**
 * A host SMC as a replay line's object (`{"smc": [...]}`): all 18 registers, zero ones as `"0x0"`, so a file
 * ffasim writes never relies on the missing-registers-are-0 rule.
 */
export function smcLine(regs: RegisterFile, cpu = 0): { smc: string[]; cpu?: number } {
  const smc = regs.toHex().map((h) => (/^0x0+$/.test(h) ? '0x0' : h));
  return cpu === 0 ? { smc } : { smc, cpu };
}

/** Largest read or write one replay action may do (keeps a hostile file from exhausting memory). */
const MAX_IO = 1 << 24;

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function u64(v: unknown): bigint | undefined {
  try {
    if (typeof v === 'number') return assertU64(v);
    // `_` separates digit groups; at least one digit ("_" and "0x_" are not numbers).
    if (
      typeof v === 'string' &&
      /^(0x[0-9a-fA-F_]{1,20}|[0-9_]{1,20})$/.test(v) &&
      /^(0x)?_*[0-9a-fA-F]/.test(v)
    )
      return assertU64(BigInt(v.replace(/_/g, '')));
  } catch {
    return undefined;
  }
  return undefined;
}

function int(v: unknown, max: number): number | undefined {
  const b = u64(v);
  return b === undefined || b > BigInt(max) ? undefined : Number(b);
}

/** Column (1-based) of the first occurrence of `"key"` in a line, for error messages. */
function colOf(text: string, key: string): number {
  const i = text.indexOf(`"${key}"`);
  return i < 0 ? 1 : i + 1;
}

/** Keys of each action's object (anything else is a located error, not ignored). */
const ACTION_KEYS = { write: ['addr', 'hex'], read: ['addr', 'len'], state: ['addr', 'pages'] } as const;

/**
 * Parses a replay file. Never throws; the error names line and column. `world` is the world the file will run in
 * when it is not the file's own (`--world`); page-state queries and `cpu` values are checked against it.
 */
export function parseReplay(
  text: string,
  name = 'replay',
  opts: { world?: WorldConfig } = {},
): Parsed<ReplayFile> {
  const out: ReplayFile = { with: [], without: [], actions: [], warnings: [] };
  const lines = text.split('\n');
  let sawAction = false;
  let sawHeader = false;
  /** Actions to check against the world once the header is known, with the columns to report. */
  const later: { action: ReplayAction; raw: string }[] = [];
  let short = 0;
  let firstShort = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    const at = (col: number, msg: string): Parsed<ReplayFile> => ({
      ok: false,
      error: `${name}:${line}:${col}: ${msg}`,
    });
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      return at(m ? Number(m[1]) + 1 + raw.indexOf(t) : 1, `not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      return at(1, 'each line must be a JSON object');
    const o = obj as Record<string, unknown>;
    const keys = Object.keys(o);
    if ('world' in o || 'profile' in o) {
      if (sawAction) return at(1, 'the world/profile line must come before every action');
      if (sawHeader) return at(1, 'a second world/profile line (a file has one header line)');
      sawHeader = true;
      for (const k of keys)
        if (!['world', 'profile', 'with', 'without'].includes(k))
          return at(colOf(raw, k), `unknown key '${k}' in the header line`);
      if ('world' in o) {
        const w = parseWorldConfig(o.world);
        if (!w.ok)
          return at(
            colOf(raw, 'world'),
            `invalid world: ${w.errors.map((x) => `${x.path}: ${x.message}`).join('; ')}`,
          );
        out.world = w.value;
      }
      if ('profile' in o) {
        if (typeof o.profile !== 'string') return at(colOf(raw, 'profile'), 'profile must be a string');
        if (!PROFILES.some((p) => p.name === o.profile))
          return at(
            colOf(raw, 'profile'),
            `unknown profile '${o.profile}' (known: ${PROFILES.map((p) => p.name).join(', ')})`,
          );
        out.profile = o.profile;
      }
      for (const k of ['with', 'without'] as const) {
        if (!(k in o)) continue;
        const v = o[k];
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
          return at(colOf(raw, k), `${k} must be an array of change ids`);
        const bad = v.find((x) => !CHANGES.some((c) => c.id === x));
        if (bad !== undefined)
          return at(colOf(raw, k), `${k}: unknown change '${String(bad)}' (see 'ffasim profiles')`);
        out[k] = v as string[];
      }
      continue;
    }
    sawAction = true;
    const kind = keys.find((k) => k === 'smc' || k === 'write' || k === 'read' || k === 'state');
    if (kind === undefined) return at(1, "expected one of 'smc', 'write', 'read', 'state'");
    for (const k of keys)
      if (k !== kind && !(kind === 'smc' && k === 'cpu')) return at(colOf(raw, k), `unknown key '${k}'`);
    const col = colOf(raw, kind);
    const v = o[kind];
    if (kind === 'smc') {
      if (!Array.isArray(v) || v.length === 0 || v.length > 18)
        return at(col, 'smc must be an array of 1–18 register values');
      const regs: bigint[] = [];
      for (let r = 0; r < v.length; r++) {
        const x = u64(v[r]);
        if (x === undefined)
          return at(col, `x${r}: not a u64 (number or 0x-hex string): ${JSON.stringify(v[r])}`);
        regs.push(x);
      }
      if (v.length < 18 && short++ === 0) firstShort = line;
      const cpu = 'cpu' in o ? int(o.cpu, 63) : 0;
      if (cpu === undefined) return at(colOf(raw, 'cpu'), 'cpu must be an integer in 0..63');
      const action: ReplayAction = { kind: 'smc', line, regs, cpu };
      out.actions.push(action);
      if ('cpu' in o) later.push({ action, raw });
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return at(col, `${kind} must be an object`);
    const a = v as Record<string, unknown>;
    const known: readonly string[] = ACTION_KEYS[kind];
    for (const k of Object.keys(a))
      if (!known.includes(k))
        return at(colOf(raw, k), `unknown key '${k}' in ${kind} (known: ${known.join(', ')})`);
    const addr = int(a.addr, 2 ** 52 - 1);
    if (addr === undefined) return at(col, `${kind}.addr must be an address below 2^52`);
    if (kind === 'write') {
      if (typeof a.hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(a.hex.replace(/\s/g, ''))) {
        return at(col, 'write.hex must be a string of hex byte pairs');
      }
      const hex = a.hex.replace(/\s/g, '');
      if (hex.length / 2 > MAX_IO) return at(col, `write larger than ${MAX_IO} bytes`);
      const bytes = new Uint8Array(hex.length / 2);
      for (let b = 0; b < bytes.length; b++) bytes[b] = Number.parseInt(hex.slice(2 * b, 2 * b + 2), 16);
      out.actions.push({ kind: 'write', line, addr, bytes });
    } else if (kind === 'read') {
      const len = int(a.len, MAX_IO);
      if (len === undefined) return at(col, `read.len must be an integer in 0..${MAX_IO}`);
      out.actions.push({ kind: 'read', line, addr, len });
    } else {
      const pages = 'pages' in a ? int(a.pages, 2 ** 40) : 1;
      if (pages === undefined || pages === 0)
        return at(colOf(raw, 'pages'), 'state.pages must be a positive integer (a number of kernel pages)');
      const action: ReplayAction = { kind: 'state', line, addr, pages };
      out.actions.push(action);
      later.push({ action, raw });
    }
  }
  // Checks against the world the file runs in: known only once its header line (or --world) is.
  const world = opts.world ?? out.world ?? defaultWorldConfig();
  const ps = world.pageSize;
  const ipaPages = 2 ** world.ipaBits / ps;
  for (const { action: a, raw } of later) {
    const at = (key: string, msg: string): Parsed<ReplayFile> => ({
      ok: false,
      error: `${name}:${a.line}:${colOf(raw, key)}: ${msg}`,
    });
    if (a.kind === 'smc' && a.cpu >= world.cpus)
      return at('cpu', `cpu ${a.cpu}: the world has ${world.cpus} CPU(s) (cpu 0..${world.cpus - 1})`);
    if (a.kind !== 'state') continue;
    const hex = `0x${a.addr.toString(16)}`;
    if (a.addr % ps !== 0) return at('addr', `state.addr ${hex} is not aligned to the page size ${ps}`);
    const first = a.addr / ps;
    if (first >= ipaPages)
      return at('addr', `state.addr ${hex} is past the world's ${world.ipaBits}-bit IPA space`);
    if (first + a.pages > ipaPages)
      return at(
        'pages',
        `state.pages ${a.pages} from ${hex} runs past the world's ${world.ipaBits}-bit IPA space (at most ${ipaPages - first} pages of ${ps} bytes from there)`,
      );
  }
  if (short > 0)
    out.warnings.push(
      `${name}: ${short} smc line(s) give fewer than 18 registers (first: line ${firstShort}); the missing registers are 0 (docs/replay.md)`,
    );
  return { ok: true, value: out };
}

/**
 * Pages the host may touch with a plain load/store: those its stage-2 maps (OWNED, SHARED_OWNED,
 * SHARED_BORROWED). A write anywhere else would fault at stage 2.
 */
function hostAccessible(world: World, addr: number, len: number): string | undefined {
  const ps = world.config.pageSize;
  const first = Math.floor(addr / ps);
  const last = Math.floor((addr + Math.max(len, 1) - 1) / ps);
  for (const r of world.stage2.query(first * ps, last - first + 1)) {
    if (
      r.region !== 'ram' ||
      !(r.host === 'OWNED' || r.host === 'SHARED_OWNED' || r.host === 'SHARED_BORROWED')
    ) {
      return `host stage-2 fault at 0x${r.addr.toString(16)} (${r.region}, ${r.host})`;
    }
  }
  return undefined;
}

/** Runs one action and returns its output line (a JSON-safe object). */
export function runAction(world: World, a: ReplayAction): Record<string, unknown> {
  switch (a.kind) {
    case 'smc': {
      const out = world.smc(RegisterFile.of(a.regs), a.cpu);
      return { line: a.line, regs: out.toHex() };
    }
    case 'write': {
      const fault = hostAccessible(world, a.addr, a.bytes.length);
      if (fault !== undefined) return { line: a.line, error: fault };
      world.mem.write(a.addr, a.bytes);
      return { line: a.line, written: a.bytes.length };
    }
    case 'read': {
      const fault = hostAccessible(world, a.addr, a.len);
      if (fault !== undefined) return { line: a.line, error: fault };
      let hex = '';
      for (const b of world.mem.read(a.addr, a.len)) hex += b.toString(16).padStart(2, '0');
      return { line: a.line, hex };
    }
    case 'state':
      return {
        line: a.line,
        state: world.state(a.addr, a.pages).map((r) => ({
          addr: `0x${r.addr.toString(16)}`,
          pages: r.pages,
          host: r.host,
          hyp: r.hyp,
          owner: r.owner,
          region: r.region,
        })),
      };
  }
}

/**
 * A replay file as a scenario for `ffasim run FILE.jsonl` (its results become trace events), with the parsed file
 * (its actions and warnings).
 */
export function replayScenario(
  text: string,
  name: string,
  opts: { world?: WorldConfig } = {},
): { ok: true; value: Scenario; file: ReplayFile } | { ok: false; error: string } {
  const r = parseReplay(text, name, opts);
  if (!r.ok) return r;
  const file = r.value;
  return {
    ok: true,
    file,
    value: {
      name,
      description: `replay of ${name}`,
      ...(file.profile === undefined ? {} : { profile: file.profile }),
      ...(file.world === undefined
        ? {}
        : {
            world: (cfg: WorldConfig) => {
              Object.assign(cfg, JSON.parse(JSON.stringify(file.world)) as WorldConfig);
            },
          }),
      run({ world }) {
        for (const a of file.actions) {
          const res = runAction(world, a);
          if ('error' in res)
            world.trace?.emit({ kind: 'note', who: 'host', text: `line ${a.line}: ${String(res.error)}` });
        }
      },
    },
  };
}

/**
 * Records a world's host actions as a replay file while a scenario runs (`ffasim run S --format replay`): every
 * host SMC as an `smc` line, preceded by a `write` line for whatever changed in the host's mapped TX buffer since
 * the last call (the only host memory the proxy reads). The TX buffer is followed from the host's successful
 * FFA_RXTX_MAP / FFA_RXTX_UNMAP calls. Partition handlers given as functions cannot be recorded: the file replays
 * against the world's JSON configuration only.
 */
export class ReplayRecorder {
  readonly lines: Record<string, unknown>[] = [];
  private tx: { addr: number; len: number } | undefined;
  private snapshot: Uint8Array = new Uint8Array(0);
  private readonly world: World;

  constructor(world: World) {
    this.world = world;
    world.observers.push({
      before: (regs) => this.before(regs),
      after: (out, token) => this.after(out, token as RegisterFile),
    });
  }

  private before(regs: RegisterFile): RegisterFile {
    if (this.tx !== undefined) {
      const now = this.world.mem.read(this.tx.addr, this.tx.len);
      let lo = 0;
      while (lo < now.length && now[lo] === this.snapshot[lo]) lo++;
      if (lo < now.length) {
        let hi = now.length;
        while (hi > lo && now[hi - 1] === this.snapshot[hi - 1]) hi--;
        let hex = '';
        for (let i = lo; i < hi; i++) hex += now[i]!.toString(16).padStart(2, '0');
        this.lines.push({ write: { addr: `0x${(this.tx.addr + lo).toString(16)}`, hex } });
        this.snapshot = now;
      }
    }
    this.lines.push(smcLine(regs, this.world.trace?.cpu ?? 0));
    return regs.clone();
  }

  private after(out: RegisterFile, call: RegisterFile): void {
    const fid = call.w(0);
    if (out.w(0) !== FFA.SUCCESS && out.w(0) !== FFA.SUCCESS64) return;
    if (fid === FFA.RXTX_MAP || fid === FFA.RXTX_MAP64) {
      // FFA_RXTX_MAP(tx, rx, page count in 4 KiB FF-A pages).
      const addr = Number(call.x(1));
      const len = (call.w(3) & 0x3f) * 4096;
      if (Number.isSafeInteger(addr) && len > 0) {
        this.tx = { addr, len };
        this.snapshot = new Uint8Array(len); // a replayed world starts with zeroed memory
      }
    } else if (fid === FFA.RXTX_UNMAP) this.tx = undefined;
  }

  /** The replay file: a header line with the world and profile, then the actions. */
  toText(header: {
    world: WorldConfig;
    profile: string;
    with: string[];
    without: string[];
    note?: string;
  }): string {
    const { note, ...h } = header;
    const head = `# ffasim replay recorded from ${note ?? 'a run'}; replay with: ffasim replay THIS_FILE [--profile all]\n`;
    return `${head}${JSON.stringify(h)}\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\n`;
  }
}
