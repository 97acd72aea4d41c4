/**
 * Campaigns over many machines (issue 14 item 6), on BullMQ over Redis. `fuzz --queue redis://HOST:PORT` is the
 * coordinator: for each guidance batch it appends the corpus entries the batch may mutate to a Redis list, adds
 * the batch's sequences as jobs of {@link JOB_CHUNK} each, waits for them and merges their results in index order
 * into the same campaign folder a local run writes. `ffasim worker --queue URL` runs jobs on any machine: it keeps a
 * booted world and a copy of the corpus per campaign, and reads from the list only the entries it has not seen.
 *
 * A worker that dies mid-job loses nothing: the job's lock runs out, BullMQ's stalled-job check puts it back in
 * the wait list and another worker runs it again from the start (a job is a pure function of its data and the
 * corpus prefix it names). The coordinator takes each job's result once, by job, so nothing is counted twice.
 */
import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { SeqInput, SeqResult } from '../check/campaign.ts';
import { UsageError } from './common.ts';
import { BatchExecutor, type BatchRunner, type CampaignSetup, split } from './fuzz-runners.ts';

/** The queue every campaign's jobs go to. */
export const QUEUE_NAME = 'ffasim-fuzz';
/** Sequences per job. */
export const JOB_CHUNK = 16;

/** One job: a piece of a batch of one campaign. */
export interface BatchJob {
  campaign: string;
  setup: CampaignSetup;
  batchCorpus: number;
  from: number;
  to: number;
}

const corpusKey = (campaign: string): string => `ffasim:campaign:${campaign}:corpus`;

/** `redis://HOST:PORT[/DB]` as connection options; a UsageError naming what is wrong. */
export function parseRedisUrl(url: string): { host: string; port: number; db: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--queue ${url}: not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== 'redis:') throw new UsageError(`--queue ${url}: expected redis://HOST:PORT`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const db = u.pathname === '' || u.pathname === '/' ? 0 : Number(u.pathname.slice(1));
  if (!Number.isInteger(db) || db < 0) throw new UsageError(`--queue ${url}: the database must be a number`);
  if (u.hostname === '') throw new UsageError(`--queue ${url}: no host`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, db };
}

/** Connects and pings, failing fast with the reason (ioredis alone would retry forever). */
async function reach(url: string): Promise<Redis> {
  const o = parseRedisUrl(url);
  const r = new Redis({
    ...o,
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    retryStrategy: () => null,
  });
  r.on('error', () => {}); // reported by connect() below
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    r.disconnect();
    throw new UsageError(
      `--queue ${url}: cannot reach Redis (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  return r;
}

function connectionOf(url: string): ConnectionOptions {
  return { ...parseRedisUrl(url), maxRetriesPerRequest: null };
}

/** The coordinator's side: a campaign's batches as jobs. */
export class QueueRunner implements BatchRunner {
  readonly label: string;
  private sent = 0;
  private readonly redis: Redis;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly campaign: string;
  private readonly setup: CampaignSetup;

  private constructor(redis: Redis, queue: Queue, events: QueueEvents, setup: CampaignSetup, url: string) {
    this.redis = redis;
    this.queue = queue;
    this.events = events;
    this.campaign = randomUUID();
    this.setup = setup;
    this.label = `jobs on ${url}`;
  }

  static async open(url: string, setup: CampaignSetup): Promise<QueueRunner> {
    const redis = await reach(url);
    const connection = connectionOf(url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    await events.waitUntilReady();
    return new QueueRunner(redis, queue, events, setup, url);
  }

  async run(
    corpus: readonly SeqInput[],
    batchCorpus: number,
    from: number,
    to: number,
  ): Promise<SeqResult[]> {
    if (this.sent < batchCorpus) {
      await this.redis.rpush(
        corpusKey(this.campaign),
        ...corpus.slice(this.sent, batchCorpus).map((c) => JSON.stringify(c)),
      );
      this.sent = batchCorpus;
    }
    const pieces = split(from, to, Math.ceil((to - from) / JOB_CHUNK));
    const jobs = await this.queue.addBulk(
      pieces.map(([a, b]) => ({
        name: 'batch',
        data: { campaign: this.campaign, setup: this.setup, batchCorpus, from: a, to: b } satisfies BatchJob,
        opts: { jobId: `${this.campaign}-${a}`, attempts: 3 },
      })),
    );
    const results = await Promise.all(
      jobs.map((j) => j.waitUntilFinished(this.events) as Promise<SeqResult[]>),
    );
    // Taken once, by job: then gone from Redis.
    await Promise.all(jobs.map((j) => j.remove()));
    return results.flat();
  }

  async close(): Promise<void> {
    await this.redis.del(corpusKey(this.campaign));
    await this.events.close();
    await this.queue.close();
    this.redis.disconnect();
  }
}

export interface WorkerOptions {
  /** How long a job stays locked by a worker that stopped answering (ms, default 30 000). */
  lockMs?: number;
  log?: (line: string) => void;
}

/** `ffasim worker --queue URL`: runs campaign jobs until closed. */
export async function startQueueWorker(
  url: string,
  o: WorkerOptions = {},
): Promise<{ close: () => Promise<void> }> {
  const redis = await reach(url);
  const log = o.log ?? (() => {});
  const executors = new Map<string, BatchExecutor>();
  const lockDuration = o.lockMs ?? 30_000;
  const worker = new Worker<BatchJob, SeqResult[]>(
    QUEUE_NAME,
    async (job) => {
      const d = job.data;
      let exec = executors.get(d.campaign);
      if (exec === undefined) {
        // One campaign at a time is the common case: the world of a finished one is dropped.
        executors.clear();
        exec = new BatchExecutor(d.setup);
        executors.set(d.campaign, exec);
      }
      if (exec.corpus.length < d.batchCorpus) {
        const more = await redis.lrange(corpusKey(d.campaign), exec.corpus.length, d.batchCorpus - 1);
        for (const m of more) exec.corpus.push(JSON.parse(m) as SeqInput);
      }
      log(`job ${job.id}: sequences ${d.from}–${d.to - 1}`);
      return exec.run(d.batchCorpus, d.from, d.to);
    },
    {
      connection: connectionOf(url),
      concurrency: 1,
      lockDuration,
      stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
      maxStalledCount: 100,
    },
  );
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close();
      redis.disconnect();
    },
  };
}
