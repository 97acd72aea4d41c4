/** docs/api.md stays true: every name it lists is exported by the package entry point. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// The type-only names of docs/api.md: this import fails the type check if one disappears.
import type {
  DirectHandler,
  FfaCall,
  FfaErrorName,
  FfaResult,
  HostQuirks,
  HostResult,
  MemSendOptions,
  PartitionContext,
  Profile,
  Scenario,
  ScenarioContext,
  SPMCQuirks,
  StateRange,
  TraceEvent,
  WorldConfig,
  WorldOptions,
} from '../src/index.ts';
import * as api from '../src/index.ts';

type DocumentedTypes = [
  DirectHandler,
  FfaCall,
  FfaErrorName,
  FfaResult,
  HostQuirks,
  HostResult<unknown>,
  MemSendOptions,
  PartitionContext,
  Profile,
  Scenario,
  ScenarioContext,
  SPMCQuirks,
  StateRange,
  TraceEvent,
  WorldConfig,
  WorldOptions,
];

const TYPE_ONLY = new Set([
  'WorldOptions',
  'WorldConfig',
  'Profile',
  'HostResult',
  'MemSendOptions',
  'HostQuirks',
  'DirectHandler',
  'PartitionContext',
  'SPMCQuirks',
  'FfaErrorName',
  'FfaCall',
  'FfaResult',
  'Scenario',
  'ScenarioContext',
  'TraceEvent',
  'StateRange',
]);

describe('docs/api.md', () => {
  it('lists only names the entry point exports', () => {
    const doc = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
    const names = new Set<string>();
    for (const row of doc.split('\n').filter((l) => l.startsWith('| `'))) {
      const first = row.split('|')[1] ?? '';
      for (const m of first.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) names.add(m[1]!);
    }
    expect(names.size).toBeGreaterThan(30);
    const missing = [...names].filter((n) => !TYPE_ONLY.has(n) && !(n in api));
    expect(missing).toEqual([]);
    const typesCompile: DocumentedTypes | undefined = undefined;
    expect(typesCompile).toBeUndefined();
  });
});
