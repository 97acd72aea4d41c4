/**
 * Annotated dumps (`ffasim decode --descriptor`, the web view's byte pane): the same parse as the codec, with
 * every field recorded, plus the bytes no field covers and the bytes two fields claim (offset tricks show there).
 */
import type { DecodeError } from '../result.ts';
import { type Annotation, Cursor, type MemKind, parseMemWith } from './mem.ts';
import {
  parseEndpointRxTxWith,
  parsePartitionInfoWith,
  parseRelinquishWith,
  parseSend2With,
} from './other.ts';
import type { DescVersion } from './types.ts';

/**
 * `mem` is any memory transaction descriptor (parsed as a send, else as a retrieve response); the `mem-*` kinds
 * name one use, so strict mode checks that use's flags and fields.
 */
export type DescriptorKind =
  | 'mem'
  | 'mem-send'
  | 'mem-retrieve-req'
  | 'mem-retrieve-resp'
  | 'mem-hyp-retrieve-req'
  | 'partition-info'
  | 'relinquish'
  | 'send2'
  | 'rxtx';

/** Every descriptor kind, for CLI choices. */
export const DESCRIPTOR_KINDS: readonly DescriptorKind[] = [
  'mem',
  'mem-send',
  'mem-retrieve-req',
  'mem-retrieve-resp',
  'mem-hyp-retrieve-req',
  'partition-info',
  'relinquish',
  'send2',
  'rxtx',
];

const MEM_KINDS: Readonly<Partial<Record<DescriptorKind, MemKind>>> = {
  'mem-send': 'send',
  'mem-retrieve-req': 'retrieve-req',
  'mem-retrieve-resp': 'retrieve-resp',
  'mem-hyp-retrieve-req': 'hyp-retrieve-req',
};

export interface Annotated {
  kind: DescriptorKind;
  version: DescVersion;
  length: number;
  fields: Annotation[];
  error?: DecodeError;
  uncovered: { offset: number; size: number }[];
  overlaps: { offset: number; size: number }[];
}

/** Annotates a descriptor; never throws. */
export function annotate(
  bytes: Uint8Array,
  kind: DescriptorKind,
  version: DescVersion,
  opts: { count?: number; strict?: boolean } = {},
): Annotated {
  const c = new Cursor(bytes, { record: true, strict: opts.strict === true });
  let r: { ok: boolean; error?: DecodeError };
  switch (kind) {
    case 'mem':
      r = parseMemWith(c, version, { kind: 'send' });
      if (!r.ok) {
        // A retrieve response may legitimately differ from a send: retry as one (strict stays strict).
        const c2 = new Cursor(bytes, { record: true, strict: opts.strict === true });
        const r2 = parseMemWith(c2, version, { kind: 'retrieve-resp' });
        if (r2.ok) return finish(kind, version, bytes, c2.rec ?? [], undefined);
      }
      break;
    case 'mem-send':
    case 'mem-retrieve-req':
    case 'mem-retrieve-resp':
    case 'mem-hyp-retrieve-req':
      r = parseMemWith(c, version, { kind: MEM_KINDS[kind]! });
      break;
    case 'rxtx':
      r = parseEndpointRxTxWith(c);
      break;
    case 'partition-info': {
      const size = version === '1.0' ? 8 : 24;
      r = parsePartitionInfoWith(c, version, opts.count ?? Math.floor(bytes.length / size));
      break;
    }
    case 'relinquish':
      r = parseRelinquishWith(c);
      break;
    case 'send2':
      r = parseSend2With(c, version === '1.2' ? '1.2' : '1.1');
      break;
  }
  return finish(kind, version, bytes, c.rec ?? [], r.ok ? undefined : r.error);
}

function finish(
  kind: DescriptorKind,
  version: DescVersion,
  bytes: Uint8Array,
  fields: Annotation[],
  error: DecodeError | undefined,
): Annotated {
  const claims = new Uint16Array(bytes.length);
  for (const f of fields)
    for (let i = f.offset; i < Math.min(bytes.length, f.offset + f.size); i++) claims[i]! += 1;
  const spans = (pred: (n: number) => boolean): { offset: number; size: number }[] => {
    const out: { offset: number; size: number }[] = [];
    let start = -1;
    for (let i = 0; i <= bytes.length; i++) {
      const hit = i < bytes.length && pred(claims[i]!);
      if (hit && start < 0) start = i;
      if (!hit && start >= 0) {
        out.push({ offset: start, size: i - start });
        start = -1;
      }
    }
    return out;
  };
  const sorted = [...fields].sort((a, b) => a.offset - b.offset || a.path.localeCompare(b.path));
  return {
    kind,
    version,
    length: bytes.length,
    fields: sorted,
    ...(error === undefined ? {} : { error }),
    uncovered: spans((n) => n === 0),
    overlaps: spans((n) => n > 1),
  };
}

/** Aligned text: offset, size, path, value, note. */
export function formatAnnotated(a: Annotated): string {
  const lines = [`${a.kind} descriptor, FF-A ${a.version} layout, ${a.length} bytes`];
  const w = Math.max(10, ...a.fields.map((f) => f.path.length));
  for (const f of a.fields) {
    const flag = f.mbzViolation ? '  ! reserved, not zero' : '';
    lines.push(
      `  ${String(f.offset).padStart(5)} +${String(f.size).padEnd(2)} ${f.path.padEnd(w)} ${f.value.padEnd(18)} ${f.note ?? ''}${flag}`,
    );
  }
  for (const u of a.uncovered)
    lines.push(
      `  ${String(u.offset).padStart(5)} +${String(u.size).padEnd(2)} ${'(no field)'.padEnd(w)} bytes no field covers`,
    );
  for (const o of a.overlaps)
    lines.push(
      `  ${String(o.offset).padStart(5)} +${String(o.size).padEnd(2)} ${'(overlap)'.padEnd(w)} bytes claimed by two fields`,
    );
  if (a.error !== undefined)
    lines.push(
      `  error ${a.error.code}${a.error.rule === undefined ? '' : ` (${a.error.rule})`}: ${a.error.message}`,
    );
  return `${lines.join('\n')}\n`;
}

/** JSON-safe form. */
export function annotatedToJSON(a: Annotated): Record<string, unknown> {
  return {
    kind: a.kind,
    version: a.version,
    length: a.length,
    fields: a.fields,
    uncovered: a.uncovered,
    overlaps: a.overlaps,
    ...(a.error === undefined
      ? {}
      : {
          error: {
            code: a.error.code,
            name: a.error.name,
            message: a.error.message,
            at: a.error.at,
            ...(a.error.rule === undefined ? {} : { rule: a.error.rule }),
          },
        }),
  };
}
