/** `ffasim decode`: register files per line, or `--descriptor FILE`. Bad input → line:column, exit 2. */

import { readInput, UsageError, writeOutput } from './common.ts';
import { decodeDescriptorCommand, decodeLines, parseHexOrBinary } from './decode.ts';

interface DecodeOpts {
  json?: boolean;
  strict?: boolean;
  descriptor?: string;
  ffaVersion: '1.0' | '1.1' | '1.2';
  kind: 'mem' | 'partition-info' | 'relinquish' | 'send2';
  count?: string;
}

export function runDecodeCommand(file: string, o: DecodeOpts): number {
  if (o.descriptor !== undefined) {
    const count = o.count === undefined ? undefined : Number(o.count);
    if (count !== undefined && (!Number.isSafeInteger(count) || count < 0))
      throw new UsageError(`--count must be a non-negative integer`);
    const bytes = parseHexOrBinary(new Uint8Array(readInput(o.descriptor)));
    const r = decodeDescriptorCommand(bytes, {
      ffaVersion: o.ffaVersion,
      kind: o.kind,
      json: o.json === true,
      ...(count === undefined ? {} : { count }),
    });
    writeOutput(r.out, undefined);
    return r.ok ? 0 : 1;
  }
  const text = readInput(file).toString('utf8');
  const r = decodeLines(text, { json: o.json === true, strict: o.strict === true });
  writeOutput(r.out, undefined);
  if (r.errors.length > 0) {
    const where = file === '-' ? 'stdin' : file;
    throw new UsageError(r.errors.map((e) => `${where}:${e.line}:${e.column}: ${e.message}`).join('\n'));
  }
  return 0;
}
