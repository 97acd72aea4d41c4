/**
 * A `fuzz --workers N` worker thread (./fuzz-runners.ts ThreadRunner): runs the sequences of each batch piece it
 * is sent, with its own booted world, and posts their results back. The corpus arrives as appended entries.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchExecutor, type CampaignSetup, type ThreadAnswer, type ThreadRequest } from './fuzz-runners.ts';

const port = parentPort;
if (port === null) throw new Error('fuzz-thread.ts runs as a worker thread');
// Terse: this thread's pieces come in index order and are merged in that order (BatchExecutor).
const exec = new BatchExecutor(workerData as CampaignSetup, true);
port.on('message', (m: ThreadRequest) => {
  if (m.op === 'corpus') {
    for (const e of m.entries) exec.corpus.push(e);
    return;
  }
  let a: ThreadAnswer;
  try {
    const t0 = performance.now();
    const results = exec.run(m.batchCorpus, m.from, m.to);
    a = { id: m.id, results, ms: performance.now() - t0 };
  } catch (e) {
    a = { id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(a);
});
