/**
 * FF-A version words (abi.md §3.3): bit 31 MBZ, bits [30:16] major, bits [15:0] minor.
 */

/** A version word as an unsigned 32-bit number. */
export type VersionWord = number;

export const FFA_VERSION_1_0: VersionWord = 0x0001_0000;
export const FFA_VERSION_1_1: VersionWord = 0x0001_0001;
export const FFA_VERSION_1_2: VersionWord = 0x0001_0002;
export const FFA_VERSION_1_3: VersionWord = 0x0001_0003;
/** FFA_VERSION's bare NOT_SUPPORTED answer in w0. */
export const FFA_VERSION_NOT_SUPPORTED = 0xffff_ffff;

/** Major version, bits [30:16] (Linux `FFA_MAJOR_VERSION`, GENMASK(30,16)). */
export function versionMajor(v: VersionWord): number {
  return (v >>> 16) & 0x7fff;
}

/** Minor version, bits [15:0]. */
export function versionMinor(v: VersionWord): number {
  return v & 0xffff;
}

/** Builds a version word. */
export function makeVersion(major: number, minor: number): VersionWord {
  return (((major & 0x7fff) << 16) | (minor & 0xffff)) >>> 0;
}

/** Caller C is compatible with callee S iff same major and C.minor ≤ S.minor (HF, CR; abi.md §3.3). */
export function versionsCompatible(caller: VersionWord, callee: VersionWord): boolean {
  return versionMajor(caller) === versionMajor(callee) && versionMinor(caller) <= versionMinor(callee);
}

/** `1.2`, or `1.2 (bit31 set)` / `NOT_SUPPORTED` for odd words. */
export function formatVersion(v: VersionWord): string {
  if (v >>> 0 === FFA_VERSION_NOT_SUPPORTED) return 'NOT_SUPPORTED';
  const s = `${versionMajor(v)}.${versionMinor(v)}`;
  return (v & 0x8000_0000) !== 0 ? `${s} (bit31 set)` : s;
}

/**
 * Parses `1.2` into a version word.
 * @returns undefined when the text is not `major.minor`.
 */
export function parseVersion(text: string): VersionWord | undefined {
  const m = /^(\d{1,5})\.(\d{1,5})$/.exec(text.trim());
  if (m === null) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major > 0x7fff || minor > 0xffff) return undefined;
  return makeVersion(major, minor);
}
