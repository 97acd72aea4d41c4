#!/usr/bin/env node
// Runs the compiled CLI (lib/, built by `npm ci` / `npm run build`) with plain node: no TypeScript loader.
import { existsSync, readdirSync, statSync } from 'node:fs';

const lib = new URL('../lib/cli/main.js', import.meta.url);
const src = new URL('../src/', import.meta.url);
if (!existsSync(lib)) {
  process.stderr.write('ffasim: lib/ is not built: run `npm run build` (npm ci does it)\n');
  process.exit(70);
}
// In a checkout, say so when src/ has changed since the last build (an installed package has no src/).
if (existsSync(src)) {
  const built = statSync(lib).mtimeMs;
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory()
        ? newer(new URL(`${e.name}/`, dir))
        : e.name.endsWith('.ts') && statSync(new URL(e.name, dir)).mtimeMs > built,
    );
  if (newer(src))
    process.stderr.write(
      'ffasim: warning: src/ is newer than lib/: run `npm run build` to use your changes\n',
    );
}
const { main } = await import(lib.href);
process.exitCode = await main(process.argv.slice(2));
