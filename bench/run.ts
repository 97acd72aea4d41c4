/**
 * `npm run bench [-- NAME…]`: prints every benchmark as ns/op and ratios to its same-run floor.
 * Performance targets live here, never in timed unit tests.
 */
import { benchFuzz, benchWorkers } from './fuzz.ts';
import { benchGuidance } from './guidance.ts';
import { printResults } from './harness.ts';
import { benchKernel } from './kernel.ts';
import { benchProxy } from './proxy.ts';
import { benchRegfile } from './regfile.ts';
import { benchStartup } from './startup.ts';
import { benchVirtio } from './virtio.ts';

const suites: Record<string, () => void | Promise<void>> = {
  fuzz: benchFuzz,
  guidance: benchGuidance,
  kernel: benchKernel,
  proxy: () =>
    printResults(
      'Proxy: ns per operation, ratio to the same-run floor (4 hops of register copies)',
      benchProxy(),
    ),
  regfile: () =>
    printResults(
      'Register file: one forwarded call, by representation (docs/register-file.md)',
      benchRegfile(),
    ),
  startup: benchStartup,
  virtio: benchVirtio,
  workers: benchWorkers,
};

const want = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) if (want.length === 0 || want.includes(name)) await run();
