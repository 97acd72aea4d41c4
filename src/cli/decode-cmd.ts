/** `ffasim decode`: register files per line, or `--descriptor FILE`. Bad input → line:column, exit 2. */

import type { DescriptorKind } from '../ffa/desc/annotate.ts';
import { emptyInput, intOption, readInput, UsageError, writeOutput } from './common.ts';
import { decodeDescriptorCommand, decodeLines, parseHexOrBinary } from './decode.ts';

interface DecodeOpts {
  json?: boolean;
  strict?: boolean;
  descriptor?: string;
  ffaVersion: '1.0' | '1.1' | '1.2';
  kind: DescriptorKind;
  count?: string;
  allowEmpty?: boolean;
}

export function runDecodeCommand(file: string, o: DecodeOpts): number {
  if (o.count !== undefined && (o.descriptor === undefined || o.kind !== 'partition-info'))
    throw new UsageError('--count goes with --descriptor FILE --kind partition-info');
  if (o.descriptor !== undefined && file !== '-')
    throw new UsageError(`--descriptor decodes its own file: drop the input ${file} (or drop --descriptor)`);
  if (o.descriptor !== undefined) {
    const count =
      o.count === undefined
        ? undefined
        : intOption('--count', o.count, 0, 0xffff_ffff, 'an integer in 0..2^32-1');
    const raw = readInput(o.descriptor);
    if (raw.length === 0)
      throw new UsageError(`no bytes in ${o.descriptor === '-' ? 'stdin' : o.descriptor}`);
    const bytes = parseHexOrBinary(new Uint8Array(raw));
    const r = decodeDescriptorCommand(bytes, {
      ffaVersion: o.ffaVersion,
      kind: o.kind,
      json: o.json === true,
      strict: o.strict === true,
      ...(count === undefined ? {} : { count }),
    });
    writeOutput(r.out, undefined);
    return r.ok ? 0 : 1;
  }
  const text = readInput(file).toString('utf8');
  const r = decodeLines(text, { json: o.json === true, strict: o.strict === true });
  writeOutput(r.out, undefined);
  const where = file === '-' ? 'stdin' : file;
  if (r.errors.length > 0)
    throw new UsageError(r.errors.map((e) => `${where}:${e.line}:${e.column}: ${e.message}`).join('\n'));
  // Every decoded line prints something: no output and no error means no register line at all.
  if (r.out === '' && o.allowEmpty !== true)
    throw emptyInput(where, 'register lines', 'blank lines or comments');
  return 0;
}
