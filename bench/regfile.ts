/**
 * Register-representation benchmark (issue 3 §2): three candidate register files for SMCCC 1.2 x0–x17,
 * each put through the same forwarded-call shape (host writes a call, the proxy reads w0 and copies the
 * file for its own SMC, the SPMC reads w0/x1 and writes a result, the proxy copies x0–x17 back).
 * Run: `npm run bench -- regfile`. Numbers and the decision live in docs/register-file.md.
 */
import { type BenchResult, measure } from './harness.ts';

const N_REGS = 18;
const FID = 0xc400006f; // FFA_MSG_SEND_DIRECT_REQ_64
const SUCCESS = 0x84000061;

/** Candidate A: Uint32Array of 36 words, x[i] = hi:lo at [2i+1]:[2i]. */
function runPairs(iter: number): number {
  const host = new Uint32Array(N_REGS * 2);
  const hypOut = new Uint32Array(N_REGS * 2);
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    host[0] = FID;
    host[1] = 0;
    host[2] = 0x8001;
    host[3] = 0;
    host[6] = n;
    const w0 = host[0]!;
    if ((w0 & 0xffff) >= 0x60) {
      hypOut.set(host);
      // SPMC side: read x1 (as a number pair) and answer.
      const dst = hypOut[2]! & 0xffff;
      hypOut.fill(0);
      hypOut[0] = SUCCESS;
      hypOut[2] = dst;
      hypOut[6] = n + 1;
      host.set(hypOut);
    }
    acc += host[6]!;
  }
  return acc;
}

/** Candidate B: BigUint64Array of 18. */
function runBigU64(iter: number): number {
  const host = new BigUint64Array(N_REGS);
  const hypOut = new BigUint64Array(N_REGS);
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    host[0] = BigInt(FID);
    host[1] = 0x8001n;
    host[3] = BigInt(n);
    const w0 = Number(host[0]! & 0xffffffffn);
    if ((w0 & 0xffff) >= 0x60) {
      hypOut.set(host);
      const dst = Number(hypOut[1]! & 0xffffn);
      hypOut.fill(0n);
      hypOut[0] = BigInt(SUCCESS);
      hypOut[1] = BigInt(dst);
      hypOut[3] = BigInt(n + 1);
      host.set(hypOut);
    }
    acc += Number(host[3]!);
  }
  return acc;
}

/** Candidate C: a plain bigint[] of 18. */
function runBigArray(iter: number): number {
  let host: bigint[] = new Array<bigint>(N_REGS).fill(0n);
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    host[0] = BigInt(FID);
    host[1] = 0x8001n;
    host[3] = BigInt(n);
    const w0 = Number(host[0]! & 0xffffffffn);
    if ((w0 & 0xffff) >= 0x60) {
      const hypOut = host.slice();
      const dst = Number(hypOut[1]! & 0xffffn);
      const res = new Array<bigint>(N_REGS).fill(0n);
      res[0] = BigInt(SUCCESS);
      res[1] = BigInt(dst);
      res[3] = BigInt(n + 1);
      host = res.slice();
    }
    acc += Number(host[3]!);
  }
  return acc;
}

export function benchRegfile(): BenchResult[] {
  const results = [
    measure('regfile: Uint32Array pairs (chosen)', runPairs),
    measure('regfile: BigUint64Array', runBigU64),
    measure('regfile: bigint[]', runBigArray),
  ];
  const floor = results[0]!.nsPerOp;
  for (const r of results) r.ratio = r.nsPerOp / floor;
  return results;
}
