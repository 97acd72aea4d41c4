/**
 * The world schema: the modelled machine (memory map, page size, hyp pages), the secure world (SPMC version,
 * partitions, quirks) and the host driver. Documented in docs/world.md. `parseWorldConfig` validates untrusted
 * JSON and returns located errors (`world.spmc.partitions[0].id: …`); it never throws.
 */

import type { HostileConfig, HostileLie, LieTarget } from '../spmc/hostile.ts';

/** A physical range in the world file. Numbers or 0x-hex strings are accepted for addresses and sizes. */
export interface RangeConfig {
  base: number;
  size: number;
  name?: string;
}

export interface PartitionConfigJSON {
  id: number;
  uuids: string[];
  /** Partition properties (abi.md §5.2); default TRUSTY_PROPERTIES. */
  properties: number;
  execContexts: number;
  name?: string;
}

export interface SPMCQuirksJSON {
  shareSuccess64?: boolean;
  versionNotSupported32?: boolean;
  featuresRxtxExtraBits?: number;
  fragRxOffsetSkew?: number;
  partitionInfoSize?: number;
  partitionInfoCount?: number;
  /** Added to every FRAG_TX fragment length the SPMC reports when serving FFA_MEM_FRAG_RX (negative: shorter). */
  fragRxLengthAdd?: number;
  /** Patch a u32 at `offset` of the hypervisor retrieve response to `value`; `length` truncates it (H13, H14). */
  retrievePatch?: { offset: number; value: number; length?: number };
}

export interface WorldConfig {
  /** Host kernel page size. */
  pageSize: 4096 | 16384 | 65536;
  /** Host IPA size in bits (pfn_range_is_valid). */
  ipaBits: number;
  /** SMCCC version the host's PSCI reports, as `major.minor`. */
  smcccVersion: string;
  /** Host RAM: memblock regions. */
  ram: RangeConfig[];
  /** RAM regions marked NOMAP. */
  nomap: RangeConfig[];
  /** Device regions (not RAM). */
  mmio: RangeConfig[];
  /** Pages owned by a protected guest. */
  guest: RangeConfig[];
  /** SG_MAX_SEGMENTS: constituents `ffa_desc_buf` is sized for (2048 mainline; Android common kernels 4096). */
  descBufConstituents: number;
  /** Number of host CPUs. */
  cpus: number;
  spmc: {
    version: string;
    versionLock: 'hafnium' | 'tfa' | 'none';
    rxtxMinSize: 0 | 1 | 2;
    rxtxMaxPages: number;
    /** Hafnium's exact descriptor-length rule (false: constituents need only fit). */
    exactLength: boolean;
    partitions: PartitionConfigJSON[];
    quirks: SPMCQuirksJSON;
    /** A hostile secure world that lies in its answers to the hyp (src/spmc/hostile.ts, docs/fuzz.md). */
    hostile?: HostileConfig;
  };
  host: {
    /** FFA_DRIVER_VERSION. */
    driverVersion: string;
  };
}

/** Property bits of the default Trusty-like partition: direct req recv/send (0, 1), indirect (2), notifications
 * (3), AArch64 (8), DIRECT_REQ2 recv/send (9, 10). */
export const TRUSTY_PROPERTIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x100 | 0x200 | 0x400;

/** The Trusty-like partition's service UUIDs (made up for the model; the second shows 1.2 multi-UUID). */
export const TRUSTY_UUIDS = ['40ee25f0-a2bc-304c-8c4c-a173c57d8af1', '9dc4a1e2-8a6b-4e0f-b2c1-5d3e6f7a8b9c'];

/**
 * The default world (issue 4): one 2 GiB memblock at 0x8000_0000, 4 KiB pages, a PL011-style device page at
 * 0x0900_0000, a small protected guest, and an FF-A 1.2 SPMC with a Trusty-like partition 0x8001.
 */
export function defaultWorldConfig(): WorldConfig {
  return {
    pageSize: 4096,
    ipaBits: 40,
    smcccVersion: '1.2',
    ram: [{ base: 0x8000_0000, size: 0x8000_0000, name: 'memblock0' }],
    nomap: [],
    mmio: [{ base: 0x0900_0000, size: 0x1_0000, name: 'pl011' }], // 64 KiB so it aligns with every page size
    guest: [{ base: 0xf000_0000, size: 0x10_0000, name: 'protected-vm' }],
    descBufConstituents: 2048,
    cpus: 2,
    spmc: {
      version: '1.2',
      versionLock: 'hafnium',
      rxtxMinSize: 0,
      rxtxMaxPages: 0,
      exactLength: true,
      partitions: [
        {
          id: 0x8001,
          uuids: [...TRUSTY_UUIDS],
          properties: TRUSTY_PROPERTIES,
          execContexts: 8,
          name: 'trusty',
        },
      ],
      quirks: {},
    },
    host: { driverVersion: '1.2' },
  };
}

/** A located problem in a world file. */
export interface ConfigError {
  path: string;
  message: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObj(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a non-negative integer given as a number or a 0x/decimal string. */
function readInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === 'string') {
    const t = v.replace(/_/g, '');
    if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) return undefined;
    const n = Number(t);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const VERSION_RE = /^1\.[0-3]$/;

/**
 * Validates a world object (already JSON-parsed) over the defaults: every key is optional; unknown keys are
 * errors (a typo must not silently fall back to a default).
 */
export function parseWorldConfig(
  input: unknown,
  at = 'world',
): { ok: true; value: WorldConfig } | { ok: false; errors: ConfigError[] } {
  const cfg = defaultWorldConfig();
  const errors: ConfigError[] = [];
  const err = (path: string, message: string): void => {
    errors.push({ path, message });
  };
  if (!isObj(input)) return { ok: false, errors: [{ path: at, message: 'must be an object' }] };
  const known = [
    'pageSize',
    'ipaBits',
    'smcccVersion',
    'ram',
    'nomap',
    'mmio',
    'guest',
    'descBufConstituents',
    'cpus',
    'spmc',
    'host',
  ];
  for (const k of Object.keys(input))
    if (!known.includes(k)) err(`${at}.${k}`, `unknown key (known: ${known.join(', ')})`);

  if ('pageSize' in input) {
    const v = readInt(input.pageSize);
    if (v === 4096 || v === 16384 || v === 65536) cfg.pageSize = v;
    else err(`${at}.pageSize`, 'must be 4096, 16384 or 65536');
  }
  if ('ipaBits' in input) {
    const v = readInt(input.ipaBits);
    if (v !== undefined && v >= 32 && v <= 52) cfg.ipaBits = v;
    else err(`${at}.ipaBits`, 'must be an integer in 32..52');
  }
  if ('smcccVersion' in input) {
    if (typeof input.smcccVersion === 'string' && /^1\.[0-9]$/.test(input.smcccVersion))
      cfg.smcccVersion = input.smcccVersion;
    else err(`${at}.smcccVersion`, "must be a string like '1.2'");
  }
  for (const key of ['ram', 'nomap', 'mmio', 'guest'] as const) {
    if (!(key in input)) continue;
    const list = input[key];
    if (!Array.isArray(list)) {
      err(`${at}.${key}`, 'must be an array of {base, size}');
      continue;
    }
    const out: RangeConfig[] = [];
    list.forEach((r, i) => {
      const p = `${at}.${key}[${i}]`;
      if (!isObj(r)) {
        err(p, 'must be an object {base, size, name?}');
        return;
      }
      for (const k of Object.keys(r))
        if (k !== 'base' && k !== 'size' && k !== 'name')
          err(`${p}.${k}`, 'unknown key (known: base, size, name)');
      if ('name' in r && typeof r.name !== 'string') err(`${p}.name`, 'must be a string');
      const base = readInt(r.base);
      const size = readInt(r.size);
      if (base === undefined) err(`${p}.base`, 'must be a non-negative integer (number or 0x-hex string)');
      if (size === undefined || size === 0)
        err(`${p}.size`, 'must be a positive integer (number or 0x-hex string)');
      if (base !== undefined && size !== undefined && size > 0) {
        if (base + size > 2 ** 48) err(p, 'range ends above 2^48');
        out.push({ base, size, ...(typeof r.name === 'string' ? { name: r.name } : {}) });
      }
    });
    cfg[key] = out;
  }
  if ('descBufConstituents' in input) {
    const v = readInt(input.descBufConstituents);
    if (v !== undefined && v >= 1 && v <= 65536) cfg.descBufConstituents = v;
    else err(`${at}.descBufConstituents`, 'must be an integer in 1..65536');
  }
  if ('cpus' in input) {
    const v = readInt(input.cpus);
    if (v !== undefined && v >= 1 && v <= 64) cfg.cpus = v;
    else err(`${at}.cpus`, 'must be an integer in 1..64');
  }
  if ('spmc' in input) parseSpmc(input.spmc, `${at}.spmc`, cfg, err);
  if ('host' in input) {
    const h = input.host;
    if (!isObj(h)) err(`${at}.host`, 'must be an object');
    else {
      for (const k of Object.keys(h))
        if (k !== 'driverVersion') err(`${at}.host.${k}`, 'unknown key (known: driverVersion)');
      if ('driverVersion' in h) {
        if (typeof h.driverVersion === 'string' && VERSION_RE.test(h.driverVersion))
          cfg.host.driverVersion = h.driverVersion;
        else err(`${at}.host.driverVersion`, "must be '1.0', '1.1', '1.2' or '1.3'");
      }
    }
  }
  checkLayout(cfg, at, err);
  return errors.length === 0 ? { ok: true, value: cfg } : { ok: false, errors };
}

function parseSpmc(s: unknown, at: string, cfg: WorldConfig, err: (p: string, m: string) => void): void {
  if (!isObj(s)) {
    err(at, 'must be an object');
    return;
  }
  const known = [
    'version',
    'versionLock',
    'rxtxMinSize',
    'rxtxMaxPages',
    'exactLength',
    'partitions',
    'quirks',
    'hostile',
  ];
  for (const k of Object.keys(s))
    if (!known.includes(k)) err(`${at}.${k}`, `unknown key (known: ${known.join(', ')})`);
  if ('version' in s) {
    if (typeof s.version === 'string' && VERSION_RE.test(s.version)) cfg.spmc.version = s.version;
    else err(`${at}.version`, "must be '1.0', '1.1', '1.2' or '1.3'");
  }
  if ('versionLock' in s) {
    if (s.versionLock === 'hafnium' || s.versionLock === 'tfa' || s.versionLock === 'none')
      cfg.spmc.versionLock = s.versionLock;
    else err(`${at}.versionLock`, "must be 'hafnium', 'tfa' or 'none'");
  }
  if ('rxtxMinSize' in s) {
    const v = readInt(s.rxtxMinSize);
    if (v === 0 || v === 1 || v === 2) cfg.spmc.rxtxMinSize = v;
    else err(`${at}.rxtxMinSize`, 'must be 0 (4K), 1 (64K) or 2 (16K)');
  }
  if ('rxtxMaxPages' in s) {
    const v = readInt(s.rxtxMaxPages);
    if (v !== undefined && v <= 0xffff) cfg.spmc.rxtxMaxPages = v;
    else err(`${at}.rxtxMaxPages`, 'must be an integer in 0..65535');
  }
  if ('exactLength' in s) {
    if (typeof s.exactLength === 'boolean') cfg.spmc.exactLength = s.exactLength;
    else err(`${at}.exactLength`, 'must be true or false');
  }
  if ('partitions' in s) {
    if (!Array.isArray(s.partitions)) err(`${at}.partitions`, 'must be an array');
    else {
      const out: PartitionConfigJSON[] = [];
      const seen = new Set<number>();
      s.partitions.forEach((p, i) => {
        const pa = `${at}.partitions[${i}]`;
        if (!isObj(p)) {
          err(pa, 'must be an object {id, uuids, properties, execContexts}');
          return;
        }
        for (const k of Object.keys(p)) {
          if (!['id', 'uuids', 'properties', 'execContexts', 'name'].includes(k))
            err(`${pa}.${k}`, 'unknown key (known: id, uuids, properties, execContexts, name)');
        }
        if ('name' in p && typeof p.name !== 'string') err(`${pa}.name`, 'must be a string');
        const id = readInt(p.id);
        if (id === undefined || id < 0x8001 || id > 0xffff)
          err(`${pa}.id`, 'must be a secure endpoint ID in 0x8001..0xFFFF');
        else if (seen.has(id)) err(`${pa}.id`, `duplicate partition ID 0x${id.toString(16)}`);
        else seen.add(id);
        const uuids = p.uuids;
        if (
          !Array.isArray(uuids) ||
          uuids.length === 0 ||
          !uuids.every((u) => typeof u === 'string' && UUID_RE.test(u))
        ) {
          err(`${pa}.uuids`, 'must be a non-empty array of RFC 4122 UUID strings');
        }
        const props = 'properties' in p ? readInt(p.properties) : TRUSTY_PROPERTIES;
        if (props === undefined || props > 0xffff_ffff) err(`${pa}.properties`, 'must be a 32-bit integer');
        const ec = 'execContexts' in p ? readInt(p.execContexts) : 1;
        if (ec === undefined || ec < 1 || ec > 0xffff)
          err(`${pa}.execContexts`, 'must be an integer in 1..65535');
        if (id !== undefined && Array.isArray(uuids) && props !== undefined && ec !== undefined) {
          out.push({
            id,
            uuids: uuids.filter((u): u is string => typeof u === 'string'),
            properties: props,
            execContexts: ec,
            ...(typeof p.name === 'string' ? { name: p.name } : {}),
          });
        }
      });
      cfg.spmc.partitions = out;
    }
  }
  if ('hostile' in s) parseHostile(s.hostile, `${at}.hostile`, cfg, err);
  if ('quirks' in s) {
    const q = s.quirks;
    if (!isObj(q)) err(`${at}.quirks`, 'must be an object');
    else {
      const out: SPMCQuirksJSON = {};
      for (const [k, v] of Object.entries(q)) {
        const p = `${at}.quirks.${k}`;
        if (k === 'shareSuccess64' || k === 'versionNotSupported32') {
          if (typeof v === 'boolean') out[k] = v;
          else err(p, 'must be true or false');
        } else if (k === 'featuresRxtxExtraBits' || k === 'partitionInfoSize' || k === 'partitionInfoCount') {
          const n = readInt(v);
          if (n !== undefined && n <= 0xffff_ffff) out[k] = n;
          else err(p, 'must be a 32-bit integer');
        } else if (k === 'retrievePatch') {
          const o = isObj(v) ? v : undefined;
          for (const key of Object.keys(o ?? {}))
            if (key !== 'offset' && key !== 'value' && key !== 'length')
              err(`${p}.${key}`, 'unknown key (known: offset, value, length)');
          const offset = o ? readInt(o.offset) : undefined;
          const value = o ? readInt(o.value) : undefined;
          const length = o && 'length' in o ? readInt(o.length) : undefined;
          if (
            o === undefined ||
            offset === undefined ||
            offset > 0x10000 ||
            value === undefined ||
            value > 0xffff_ffff ||
            ('length' in o && (length === undefined || length < 1 || length > 0x10000))
          ) {
            err(p, 'must be { offset: 0..65536, value: u32, length?: 1..65536 }');
          } else out.retrievePatch = { offset, value, ...(length === undefined ? {} : { length }) };
        } else if (k === 'fragRxLengthAdd') {
          if (typeof v === 'number' && Number.isSafeInteger(v) && Math.abs(v) <= 0x10000) out[k] = v;
          else err(p, 'must be an integer in −65536..65536');
        } else if (k === 'fragRxOffsetSkew') {
          if (typeof v === 'number' && Number.isSafeInteger(v) && Math.abs(v) <= 0xffff_ffff) out[k] = v;
          else err(p, 'must be an integer in −(2^32−1)..2^32−1');
        } else {
          err(
            p,
            'unknown quirk (known: shareSuccess64, versionNotSupported32, featuresRxtxExtraBits, fragRxOffsetSkew, partitionInfoSize, partitionInfoCount, retrievePatch, fragRxLengthAdd)',
          );
        }
      }
      cfg.spmc.quirks = out;
    }
  }
}

/** `spmc.hostile`: `{seed?, rate?, lies?}` (src/spmc/hostile.ts). */
function parseHostile(h: unknown, at: string, cfg: WorldConfig, err: (p: string, m: string) => void): void {
  if (!isObj(h)) {
    err(at, 'must be an object {seed?, rate?, lies?}');
    return;
  }
  const out: HostileConfig = {};
  for (const k of Object.keys(h))
    if (k !== 'seed' && k !== 'rate' && k !== 'lies')
      err(`${at}.${k}`, 'unknown key (known: seed, rate, lies)');
  if ('seed' in h) {
    const v = readInt(h.seed);
    if (v !== undefined && v <= 0xffff_ffff) out.seed = v;
    else err(`${at}.seed`, 'must be an integer in 0..4294967295');
  }
  if ('rate' in h) {
    if (typeof h.rate === 'number' && h.rate >= 0 && h.rate <= 1) out.rate = h.rate;
    else err(`${at}.rate`, 'must be a number in 0..1');
  }
  if ('lies' in h) {
    if (!Array.isArray(h.lies)) err(`${at}.lies`, 'must be an array');
    else {
      const lies: HostileLie[] = [];
      h.lies.forEach((l, i) => {
        const p = `${at}.lies[${i}]`;
        if (!isObj(l)) {
          err(p, 'must be an object {call, nth, target, at?, value}');
          return;
        }
        for (const k of Object.keys(l))
          if (!['call', 'nth', 'target', 'at', 'value'].includes(k))
            err(`${p}.${k}`, 'unknown key (known: call, nth, target, at, value)');
        const call = readInt(l.call);
        const nth = readInt(l.nth);
        const value = readInt(l.value);
        const t = l.target;
        const target =
          t === 'x0' || t === 'rx' || (typeof t === 'string' && /^w([1-9]|1[0-7])$/.test(t))
            ? (t as LieTarget)
            : undefined;
        const off = 'at' in l ? readInt(l.at) : 0;
        if (call === undefined || call > 0xffff_ffff) err(`${p}.call`, 'must be a 32-bit function ID');
        if (nth === undefined || nth < 1) err(`${p}.nth`, 'must be a positive integer (1 = first answer)');
        if (value === undefined || value > 0xffff_ffff) err(`${p}.value`, 'must be a 32-bit integer');
        if (target === undefined) err(`${p}.target`, "must be 'x0', 'w1'…'w17' or 'rx'");
        if (off === undefined || off % 4 !== 0 || off > 0x1_0000 - 4)
          err(`${p}.at`, 'must be a multiple of 4 in 0..65532 (a byte offset in the hyp RX buffer)');
        else if ('at' in l && target !== 'rx') err(`${p}.at`, "only with target 'rx'");
        if (
          call !== undefined &&
          nth !== undefined &&
          value !== undefined &&
          target !== undefined &&
          off !== undefined
        )
          lies.push({ call, nth, target, value, ...(target === 'rx' ? { at: off } : {}) });
      });
      out.lies = lies;
    }
  }
  cfg.spmc.hostile = out;
}

/** Cross-field checks: alignment to the page size, overlaps. */
function checkLayout(cfg: WorldConfig, at: string, err: (p: string, m: string) => void): void {
  const ps = cfg.pageSize;
  for (const key of ['ram', 'nomap', 'mmio', 'guest'] as const) {
    cfg[key].forEach((r, i) => {
      if (r.base % ps !== 0 || r.size % ps !== 0)
        err(`${at}.${key}[${i}]`, `base and size must be multiples of pageSize ${ps}`);
      if (r.base + r.size > 2 ** cfg.ipaBits)
        err(`${at}.${key}[${i}]`, `range ends above the host's ${cfg.ipaBits}-bit IPA space (ipaBits)`);
    });
  }
  if (cfg.ram.length === 0) err(`${at}.ram`, 'at least one RAM region is needed');
  const sorted = [...cfg.ram].sort((a, b) => a.base - b.base);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.base < sorted[i - 1]!.base + sorted[i - 1]!.size) err(`${at}.ram`, 'RAM regions overlap');
  }
  const inRam = (r: RangeConfig): boolean =>
    cfg.ram.some((m) => r.base >= m.base && r.base + r.size <= m.base + m.size);
  cfg.nomap.forEach((r, i) => {
    if (!inRam(r)) err(`${at}.nomap[${i}]`, 'NOMAP ranges must lie inside one RAM region');
  });
  cfg.guest.forEach((r, i) => {
    if (!inRam(r)) err(`${at}.guest[${i}]`, 'guest ranges must lie inside one RAM region');
  });
  cfg.mmio.forEach((r, i) => {
    if (cfg.ram.some((m) => r.base < m.base + m.size && m.base < r.base + r.size))
      err(`${at}.mmio[${i}]`, 'MMIO overlaps RAM');
  });
}
