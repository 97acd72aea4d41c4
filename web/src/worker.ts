/**
 * Streams a trace into an index off the main thread: fetch (or a dropped file's stream), gunzip with
 * DecompressionStream when the bytes start with the gzip magic, feed the IndexBuilder, post a first snapshot
 * early (so rows paint before the file is read) and the final index with its buffers transferred.
 */
import { IndexBuilder, type TraceIndex } from './model/trace-index.ts';

export type WorkerIn =
  | { url: string }
  | { file: Blob }
  | { bytes: ArrayBuffer }
  /** A response body the page already opened (transferred): the page paints its head while this indexes all. */
  | { stream: ReadableStream<Uint8Array> };
export type WorkerOut =
  | { type: 'partial'; index: TraceIndex; marks: Record<string, number> }
  | { type: 'done'; index: TraceIndex; ms: number; parseMs: number; chunks: number }
  | { type: 'error'; message: string };

/** Enough events to fill the first screen of rows; the first snapshot goes out as soon as they are read. */
const FIRST_SNAPSHOT_EVENTS = 500;
/** Until then, chunks are fed in slices this big so a large first chunk does not delay it. */
const SLICE = 128 * 1024;

async function streamOf(msg: WorkerIn): Promise<ReadableStream<Uint8Array>> {
  if ('url' in msg) {
    const r = await fetch(msg.url);
    if (!r.ok || r.body === null) throw new Error(`cannot load ${msg.url}: HTTP ${r.status}`);
    return r.body;
  }
  if ('file' in msg) return msg.file.stream() as ReadableStream<Uint8Array>;
  if ('stream' in msg) return msg.stream;
  const bytes = new Uint8Array(msg.bytes);
  return new ReadableStream({
    start(c) {
      c.enqueue(bytes);
      c.close();
    },
  });
}

/** Peeks at the first bytes; pipes through gunzip when they are 1f 8b. */
async function maybeGunzip(s: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const [a, b] = s.tee();
  const reader = a.getReader();
  const first = await reader.read();
  void reader.cancel();
  const v = first.value;
  if (v !== undefined && v.length >= 2 && v[0] === 0x1f && v[1] === 0x8b)
    return b.pipeThrough(
      new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>,
    );
  return b;
}

export async function indexStream(
  msg: WorkerIn,
  post: (m: WorkerOut, transfer?: Transferable[]) => void,
): Promise<void> {
  const t0 = performance.now();
  const marks: Record<string, number> = { start: Date.now() };
  try {
    const raw = await streamOf(msg);
    marks.response = Date.now();
    const s = await maybeGunzip(raw);
    marks.peeked = Date.now();
    const b = new IndexBuilder();
    let sent = false;
    let parseMs = 0;
    let chunks = 0;
    const reader = s.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const tp = performance.now();
      if (chunks === 0) marks.firstChunk = Date.now();
      chunks++;
      if (sent) b.push(value);
      else
        for (let o = 0; o < value.length; o += SLICE) {
          b.push(value.subarray(o, o + SLICE));
          if (!sent && b.events >= FIRST_SNAPSHOT_EVENTS) {
            sent = true;
            marks.snapshot = Date.now();
            post({ type: 'partial', index: b.snapshot(), marks });
          }
        }
      parseMs += performance.now() - tp;
    }
    const tf = performance.now();
    const ix = b.finish();
    parseMs += performance.now() - tf;
    post({ type: 'done', index: ix, ms: performance.now() - t0, parseMs, chunks }, [
      ix.raw.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  }
}

// Running as a worker: answer each request.
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<WorkerIn>) => void) | null;
  postMessage: (m: WorkerOut, t?: Transferable[]) => void;
  document?: unknown;
};
if (scope.document === undefined) {
  scope.onmessage = (e) => {
    void indexStream(e.data, (m, t) => scope.postMessage(m, t ?? []));
  };
}
