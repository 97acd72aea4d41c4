/**
 * A scripted EL3 for proxy unit tests: records every SMC the hyp issues and answers from a table the test can
 * override. It is deliberately not an SPMC (that is src/spmc); it lets a test pin exact registers.
 */
import { FFA } from '../../src/ffa/ids.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { FfaProxy } from '../../src/hyp/proxy.ts';
import { PhysMem } from '../../src/mem/phys.ts';
import { Stage2 } from '../../src/mem/stage2.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { TraceBus } from '../../src/trace/events.ts';

export const RAM = 0x8000_0000;
export const HYP = RAM + 0x7000_0000;

export type Responder = (r: RegisterFile) => RegisterFile | undefined;

export interface Harness {
  proxy: FfaProxy;
  s2: Stage2;
  mem: PhysMem;
  bus: TraceBus;
  /** Every register file the hyp sent to EL3. */
  sent: RegisterFile[];
  /** Test-provided overrides, consulted first. */
  respond: Responder[];
  /** Issues a host SMC and returns the host registers after it. */
  call(values: readonly (bigint | number)[]): RegisterFile;
  /** Negotiates 1.2 (or `v`) and maps host RXTX at TX/RX. */
  setup(v?: number): void;
  TX: number;
  RX: number;
}

export function ok(x2 = 0, x3 = 0): RegisterFile {
  return new RegisterFile().setW(0, FFA.SUCCESS).setW(2, x2).setW(3, x3);
}

export function errRegs(code: number): RegisterFile {
  return new RegisterFile().setW(0, FFA.ERROR).setW(2, code);
}

/** Default scripted answers of a well-behaved 1.2 SPMC. */
function defaults(r: RegisterFile): RegisterFile {
  const fid = r.w(0);
  switch (fid) {
    case FFA.VERSION:
      return new RegisterFile().setW(0, 0x10002);
    case FFA.ID_GET:
    case FFA.RXTX_MAP64:
    case FFA.RXTX_UNMAP:
    case FFA.RX_RELEASE:
    case FFA.FEATURES:
      return ok();
    case FFA.MEM_SHARE64:
    case FFA.MEM_LEND64:
      return r.w(1) === r.w(2)
        ? ok(0x1234, 0)
        : new RegisterFile().setW(0, FFA.MEM_FRAG_RX).setW(1, 0x1234).setW(3, r.w(2));
    case FFA.MEM_FRAG_TX:
      return ok(0x1234, 0);
    case FFA.MEM_RECLAIM:
      return ok();
    default:
      // Forwarded calls: echo x0–x17 with x0 = SUCCESS, so tests can see the SPMC got the host's registers.
      return r.clone().setW(0, FFA.SUCCESS);
  }
}

export function makeHarness(
  profile = 'ffa-1.2',
  o: { pageSize?: number; with?: string[]; without?: string[] } = {},
): Harness {
  const pageSize = o.pageSize ?? 4096;
  const mem = new PhysMem();
  const bus = new TraceBus();
  const s2 = new Stage2({
    pageSize,
    regions: [{ base: RAM, size: 0x8000_0000, kind: 'ram' }],
    ipaBits: 40,
  });
  s2.assign(HYP, 16 * (65536 / pageSize), 'hyp');
  s2.assign(RAM + 0x6000_0000, 16, 'guest');
  s2.trace = bus;
  const sent: RegisterFile[] = [];
  const respond: Responder[] = [];
  const proxy = new FfaProxy({
    profile: createProfile(profile, { with: o.with ?? [], without: o.without ?? [] }),
    mem,
    stage2: s2,
    pages: { tx: HYP, rx: HYP + pageSize, descBuf: HYP + 2 * pageSize, descBufLen: 36864 },
    smc: (r) => {
      sent.push(r.clone());
      for (const f of respond) {
        const out = f(r);
        if (out !== undefined) return out;
      }
      return defaults(r);
    },
    trace: bus,
  });
  proxy.initialise();
  const TX = RAM + 0x100_0000;
  const RX = RAM + 0x110_0000;
  const h: Harness = {
    proxy,
    s2,
    mem,
    bus,
    sent,
    respond,
    TX,
    RX,
    call(values) {
      const r = RegisterFile.of(values);
      proxy.handleHostSmc(r);
      return r;
    },
    setup(v = 0x10002) {
      h.call([FFA.VERSION, v]);
      const m = h.call([FFA.RXTX_MAP64, TX, RX, pageSize / 4096]);
      if (m.w(0) !== FFA.SUCCESS) throw new Error(`setup: RXTX_MAP failed ${m.toHex()[2]}`);
    },
  };
  return h;
}
