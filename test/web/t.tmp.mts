import { filterHops, parseFilter } from '../../web/src/model/filter.ts';
import { indexTrace } from '../../web/src/model/trace-index.ts';
import { bigTrace } from './synth.ts';

const bytes = new TextEncoder().encode(bigTrace(100000));
for (let k = 0; k < 3; k++) {
  const t0 = performance.now();
  const ix = indexTrace(bytes);
  console.log('index', (performance.now() - t0).toFixed(0), ix.n);
  for (const f of ['name:MEM_SHARE', 'status:!SUCCESS', 'page:0x88000000']) {
    const p = parseFilter(f);
    const t1 = performance.now();
    const r = filterHops(ix, (p as any).terms);
    console.log(f, (performance.now() - t1).toFixed(1), r.length);
  }
}
{
  const t0 = performance.now();
  const b = new (await import('../../web/src/model/trace-index.ts')).IndexBuilder();
  for (let o = 0; o < bytes.length; o += 65536) b.push(bytes.subarray(o, o + 65536));
  b.finish();
  console.log('chunked', performance.now() - t0);
}
{
  const t0 = performance.now();
  const b = new (await import('../../web/src/model/trace-index.ts')).IndexBuilder();
  for (let o = 0; o < bytes.length; o += 65536) b.push(bytes.subarray(o, o + 65536));
  b.finish();
  console.log('chunked', performance.now() - t0);
}
