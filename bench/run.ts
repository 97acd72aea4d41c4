/**
 * `npm run bench [-- NAME…]`: prints every benchmark as ns/op and ratios to its same-run floor.
 * Performance targets live here, never in timed unit tests.
 */
import { printResults } from './harness.ts';
import { benchRegfile } from './regfile.ts';

const suites: Record<string, () => void> = {
  regfile: () =>
    printResults(
      'Register file: one forwarded call, by representation (docs/register-file.md)',
      benchRegfile(),
    ),
};

const want = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) if (want.length === 0 || want.includes(name)) run();
