/**
 * SMCCC function identifier fields (abi.md §1.1; Linux `include/linux/arm-smccc.h`).
 * All helpers take the 32-bit w0 as an unsigned number.
 */

/** Bit 31: fast call (1) or yielding call (0). */
export const FID_FAST = 0x8000_0000;
/** Bit 30: SMC64/HVC64 calling convention. */
export const FID_SMC64 = 0x4000_0000;
/** Bit 16: SMCCC v1.3 SVE hint ("call hints"); stripped before a dispatcher matches the ID. */
export const FID_SVE_HINT = 0x0001_0000;
/** Owner field value of standard secure services (FF-A, PSCI). */
export const OWNER_STANDARD_SECURE = 4;
/** SMCCC's own NOT_SUPPORTED return (−1 in x0). */
export const SMCCC_RET_NOT_SUPPORTED = -1;

/** True for a fast call (bit 31). */
export function isFastCall(fid: number): boolean {
  return (fid & FID_FAST) !== 0;
}

/** True for the SMC64 convention (bit 30). */
export function isSmc64(fid: number): boolean {
  return (fid & FID_SMC64) !== 0;
}

/** Owning entity, bits [29:24]. */
export function fidOwner(fid: number): number {
  return (fid >>> 24) & 0x3f;
}

/** Function number, bits [15:0]. */
export function fidNumber(fid: number): number {
  return fid & 0xffff;
}

/** Reserved bits [23:17] (MBZ). */
export function fidReserved(fid: number): number {
  return (fid >>> 17) & 0x7f;
}

/** w0 with the SVE hint bit cleared, as pKVM's `handle_host_smc` does before dispatch. */
export function stripCallHints(fid: number): number {
  return (fid & ~FID_SVE_HINT) >>> 0;
}

/** Builds a fast-call ID: fast | convention | owner | number. */
export function makeFid(smc64: boolean, owner: number, num: number): number {
  return (FID_FAST | (smc64 ? FID_SMC64 : 0) | ((owner & 0x3f) << 24) | (num & 0xffff)) >>> 0;
}

/** A readable breakdown of a function ID's fields. */
export interface FidFields {
  fast: boolean;
  smc64: boolean;
  owner: number;
  reserved: number;
  sveHint: boolean;
  number: number;
}

/** Splits a function ID into its SMCCC fields. */
export function fidFields(fid: number): FidFields {
  return {
    fast: isFastCall(fid),
    smc64: isSmc64(fid),
    owner: fidOwner(fid),
    reserved: fidReserved(fid),
    sveHint: (fid & FID_SVE_HINT) !== 0,
    number: fidNumber(fid),
  };
}
