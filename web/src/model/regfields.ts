/**
 * Field boundaries of one register of a call, for the register bit strip: which bits carry which argument
 * (CALL_SPECS in src/ffa/calls.ts, abi.md §2) and which are MBZ — everything no field covers, including the
 * upper halves of SMC32 arguments and x8–x17 (SMCCC 1.2; abi.md §13).
 */
import { CALL_SPECS, type CallField, fieldsFor } from '../../../src/ffa/calls.ts';

export interface BitField {
  name: string;
  /** Lowest bit. */
  lo: number;
  width: number;
}

const baseName = (name: string): string => name.replace(/_(64|32)$/, '');

function specOf(name: string, smc64: boolean): readonly CallField[] | undefined {
  const base = baseName(name);
  // The decoder's own layout, including the convention-dependent ones (SUCCESS_64 and CONSOLE_LOG payloads).
  return base in CALL_SPECS ? fieldsFor(base, smc64) : undefined;
}

/** SMCCC function ID fields of w0 (SMCCC §2.5): bits 23:17 and the upper half are MBZ. */
const FUNCTION_ID: readonly BitField[] = [
  { name: 'function number', lo: 0, width: 16 },
  { name: 'SVE hint', lo: 16, width: 1 },
  { name: 'owner', lo: 24, width: 6 },
  { name: 'SMC64', lo: 30, width: 1 },
  { name: 'fast call', lo: 31, width: 1 },
];

/** Fields of register x`reg` for a hop named `name` (as in the trace, `FFA_MEM_SHARE_64`). */
export function registerFields(name: string, smc64: boolean, reg: number): BitField[] {
  if (reg === 0) return [...FUNCTION_ID];
  const spec = specOf(name, smc64);
  if (spec === undefined) {
    // A version number (FFA_VERSION's answer) or an unknown ID: only w0 is known.
    return [];
  }
  const xw = smc64 ? 64 : 32;
  const out: BitField[] = [];
  for (const f of spec) {
    switch (f.kind) {
      case 'w':
        if (f.reg === reg) out.push({ name: f.name, lo: f.lo ?? 0, width: f.width ?? 32 });
        break;
      case 'x':
        if (f.reg === reg) out.push({ name: f.name, lo: 0, width: 64 });
        break;
      case 'xw':
        if (f.reg === reg) out.push({ name: f.name, lo: 0, width: xw });
        break;
      case 'handle':
        if (f.reg === reg) out.push({ name: 'handle[31:0]', lo: 0, width: 32 });
        if (f.reg + 1 === reg) out.push({ name: 'handle[63:32]', lo: 0, width: 32 });
        break;
      case 'uuid4':
        if (reg >= f.reg && reg < f.reg + 4) out.push({ name: `uuid w${reg - f.reg}`, lo: 0, width: 32 });
        break;
      case 'uuid2':
        if (reg >= f.reg && reg < f.reg + 2) out.push({ name: `uuid x${reg - f.reg}`, lo: 0, width: 64 });
        break;
      case 'payload':
        if (reg >= f.reg && reg < f.reg + (f.count ?? 0))
          out.push({ name: `payload[${reg - f.reg}]`, lo: 0, width: xw });
        break;
    }
  }
  return out.sort((a, b) => a.lo - b.lo);
}

/** MBZ mask (as a bigint) of a register: every bit no field covers. */
export function mbzMask(fields: readonly BitField[], knownLayout: boolean): bigint {
  if (!knownLayout) return 0n;
  let covered = 0n;
  for (const f of fields) covered |= ((1n << BigInt(f.width)) - 1n) << BigInt(f.lo);
  return ~covered & ((1n << 64n) - 1n);
}

/** Whether the trace name has a known argument layout. */
export function hasLayout(name: string): boolean {
  return baseName(name) in CALL_SPECS;
}
