/**
 * Register-representation benchmark (issue 3 §2): four candidate register files for SMCCC 1.2 x0–x17, each put
 * through the same forwarded-call shape — the host's file is copied into a fresh file for the proxy's own SMC
 * (pKVM builds a new `arm_smccc_1_2_regs`), the SPMC reads w0/x1 and answers in a fresh file, and the proxy
 * copies x0–x17 back into the host context. Allocation is part of the shape: every hop of the model allocates.
 * Numbers and the decision: docs/register-file.md.
 */
import { type BenchResult, measure } from './harness.ts';

const FID = 0xc400006f; // FFA_MSG_SEND_DIRECT_REQ_64
const SUCCESS = 0x84000061;

/** Candidate A (chosen): number[36], x[i] = words[2i+1]:words[2i]. */
function runNumberPairs(iter: number): number {
  const host: number[] = new Array<number>(36).fill(0);
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    host[0] = FID;
    host[2] = 0x8001;
    host[6] = n;
    if (((host[0] ?? 0) & 0xffff) >= 0x60) {
      const smc = host.slice(); // the hyp's SMC file
      const dst = (smc[2] ?? 0) & 0xffff;
      const res = new Array<number>(36).fill(0); // the SPMC's answer
      res[0] = SUCCESS;
      res[2] = dst;
      res[6] = n + 1;
      for (let i = 0; i < 36; i++) host[i] = res[i] ?? 0;
    }
    acc += host[6] ?? 0;
  }
  return acc;
}

/** Candidate B: Uint32Array(36) pairs (144 bytes: an off-heap backing store per allocation). */
function runTypedPairs(iter: number): number {
  const host = new Uint32Array(36);
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    host[0] = FID;
    host[2] = 0x8001;
    host[6] = n;
    if (((host[0] ?? 0) & 0xffff) >= 0x60) {
      const smc = host.slice();
      const dst = (smc[2] ?? 0) & 0xffff;
      const res = new Uint32Array(36);
      res[0] = SUCCESS;
      res[2] = dst;
      res[6] = n + 1;
      host.set(res);
    }
    acc += host[6] ?? 0;
  }
  return acc;
}

/** Candidate C: BigUint64Array(18). */
function runBigU64(iter: number): number {
  const host = new BigUint64Array(18);
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    host[0] = BigInt(FID);
    host[1] = 0x8001n;
    host[3] = BigInt(n);
    if ((Number((host[0] ?? 0n) & 0xffffffffn) & 0xffff) >= 0x60) {
      const smc = host.slice();
      const dst = Number((smc[1] ?? 0n) & 0xffffn);
      const res = new BigUint64Array(18);
      res[0] = BigInt(SUCCESS);
      res[1] = BigInt(dst);
      res[3] = BigInt(n + 1);
      host.set(res);
    }
    acc += Number(host[3] ?? 0n);
  }
  return acc;
}

/** Candidate D: bigint[18]. */
function runBigArray(iter: number): number {
  const host: bigint[] = new Array<bigint>(18).fill(0n);
  let acc = 0;
  for (let n = 0; n < iter; n++) {
    host[0] = BigInt(FID);
    host[1] = 0x8001n;
    host[3] = BigInt(n);
    if ((Number((host[0] ?? 0n) & 0xffffffffn) & 0xffff) >= 0x60) {
      const smc = host.slice();
      const dst = Number((smc[1] ?? 0n) & 0xffffn);
      const res = new Array<bigint>(18).fill(0n);
      res[0] = BigInt(SUCCESS);
      res[1] = BigInt(dst);
      res[3] = BigInt(n + 1);
      for (let i = 0; i < 18; i++) host[i] = res[i] ?? 0n;
    }
    acc += Number(host[3] ?? 0n);
  }
  return acc;
}

export function benchRegfile(): BenchResult[] {
  const results = [
    measure('regfile: number[36] u32 pairs (chosen)', runNumberPairs),
    measure('regfile: Uint32Array(36) u32 pairs', runTypedPairs),
    measure('regfile: BigUint64Array(18)', runBigU64),
    measure('regfile: bigint[18]', runBigArray),
  ];
  const floor = results[0]!.nsPerOp;
  for (const r of results) r.ratio = r.nsPerOp / floor;
  return results;
}
