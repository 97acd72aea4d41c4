#!/usr/bin/env node
// Hazards Biome has no rule for (../shared/STYLE.md habit 15), checked over src/ on every `npm test`:
//  - `push(...x)` and `Math.max/min(...x)`: fuzzed inputs can be huge (argument-count limits, ssz#535);
//  - DataView multi-byte reads/writes without an explicit little-endian `true`;
//  - Node APIs below src/cli and src/kernel (the web view reuses the core in a browser);
//  - imports that break the layering of docs/architecture.md (hyp, spmc, host never import each other).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
})(join(root, 'src'));
const srcCount = files.length;
// The web view (web/src) runs in a browser: no Node APIs, and it may use every core layer but the CLI.
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('vite.config.ts')) files.push(p);
  }
})(join(root, 'web', 'src'));

// Layer of each folder; a file may import only its own layer or the ones listed.
const allowed = {
  smccc: [],
  ffa: ['smccc'],
  // virtio: the virtio-msg codec, beside ffa (docs/virtio-msg.md); trace decodes its payloads.
  virtio: ['smccc', 'ffa'],
  trace: ['smccc', 'ffa', 'virtio'],
  mem: ['trace'],
  hyp: ['smccc', 'ffa', 'mem', 'trace'],
  spmc: ['smccc', 'ffa', 'virtio', 'mem', 'trace'],
  host: ['smccc', 'ffa', 'virtio', 'mem', 'trace'],
  world: ['smccc', 'ffa', 'virtio', 'mem', 'trace', 'hyp', 'spmc', 'host'],
  scenario: ['smccc', 'ffa', 'virtio', 'mem', 'trace', 'hyp', 'spmc', 'host', 'world'],
  check: ['smccc', 'ffa', 'virtio', 'mem', 'trace', 'hyp', 'spmc', 'host', 'world', 'scenario'],
  // kernel: the Node layer that fetches, builds and runs real kernel trees (src/kernel may use Node APIs).
  kernel: ['smccc', 'ffa', 'virtio', 'mem', 'trace', 'hyp', 'spmc', 'host', 'world', 'scenario', 'check'],
  cli: [
    'smccc',
    'ffa',
    'virtio',
    'mem',
    'trace',
    'hyp',
    'spmc',
    'host',
    'world',
    'scenario',
    'check',
    'kernel',
  ],
};

const problems = [];
for (const f of files) {
  const inWeb = f.startsWith(join(root, 'web') + sep);
  const rel = inWeb ? relative(root, f) : relative(join(root, 'src'), f);
  const layer = inWeb ? 'web' : rel.split(sep)[0];
  const text = readFileSync(f, 'utf8');
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const where = `${inWeb ? '' : 'src/'}${rel}:${i + 1}`;
    if (/\.push\(\s*\.\.\./.test(line)) problems.push(`${where}: push(...x) — use a loop`);
    if (/Math\.(max|min)\(\s*\.\.\./.test(line)) problems.push(`${where}: Math.max/min(...x) — use a loop`);
    const dv = line.match(
      /\.(get|set)(Uint16|Int16|Uint32|Int32|BigUint64|BigInt64|Float32|Float64)\(([^()]*(\([^()]*\))?[^()]*)\)/g,
    );
    for (const m of dv ?? []) {
      if (!/,\s*true\s*\)$/.test(m))
        problems.push(`${where}: DataView access without explicit little-endian 'true': ${m}`);
    }
    if (layer !== 'cli' && layer !== 'kernel' && /from ['"]node:|require\(['"]node:|\bBuffer\./.test(line)) {
      problems.push(`${where}: Node API below src/cli and src/kernel`);
    }
    if (inWeb && /from ['"](\.\.\/)+src\/cli\//.test(line))
      problems.push(`${where}: web may not import src/cli`);
    const imp = line.match(/from ['"](\.\.\/)([a-z]+)\//);
    if (imp && layer in allowed) {
      const target = imp[2];
      if (target !== layer && !allowed[layer].includes(target))
        problems.push(`${where}: ${layer} may not import ${target}`);
    }
  });
}
if (problems.length > 0) {
  console.error(`bans: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`bans: ${srcCount} core and ${files.length - srcCount} web files clean`);
