/**
 * A run's trace as `ffasim-trace/1` JSONL (docs/trace-format.md): the header the CLI and the web view's in-page
 * re-runs both write, so a what-if trace is byte-for-byte what `ffasim run --format jsonl` prints.
 */
import { componentsOf, TRACE_SCHEMA, toJSONL } from '../trace/jsonl.ts';
import type { RunResult } from './scenario.ts';

export function runToJSONL(r: RunResult): string {
  const events = r.world.trace?.events ?? [];
  const cfg = r.world.config;
  return toJSONL(
    {
      schema: TRACE_SCHEMA,
      tool: 'ffasim',
      profile: r.profile.name,
      changes: r.profile.changes,
      seed: r.seed,
      scenario: r.scenario.name,
      world: {
        pageSize: cfg.pageSize,
        ram: cfg.ram,
        spmcVersion: cfg.spmc.version,
        partitions: cfg.spmc.partitions.map((p) => `0x${p.id.toString(16)}`),
      },
      components: componentsOf(events),
    },
    events,
  );
}
