/**
 * The SPMD at EL3 (TF-A `services/std_svc/spmd`): FF-A calls from the normal world go to the SPMC;
 * FFA_EL3_INTR_HANDLE from the NWd is answered NOT_SUPPORTED here (it is reserved for the SPMC → SPMD
 * direction, abi.md §10); any other SMC is not ours: SMCCC NOT_SUPPORTED (x0 = −1). Both answers name their rule
 * (./rules.ts) in a `decision` event when a trace is attached.
 */
import { FFA } from '../ffa/ids.ts';
import { fidNumber, fidOwner, isFastCall } from '../smccc/fid.ts';
import { RegisterFile } from '../smccc/regs.ts';
import { hopRegs, type TraceSink } from '../trace/events.ts';
import { emitRule } from './rules.ts';
import type { SPMC } from './spmc.ts';

export class SPMD {
  private readonly spmc: SPMC;
  private readonly trace: TraceSink | undefined;

  constructor(o: { spmc: SPMC; trace?: TraceSink }) {
    this.spmc = o.spmc;
    this.trace = o.trace;
  }

  /**
   * A lying EL3 (./hostile.ts): sees every answer on its way back to the normal world and may change it. Set by
   * the world from `spmc.hostile` after hyp init, or by the fuzzer per sequence.
   */
  hostile: { answer(call: RegisterFile, out: RegisterFile): RegisterFile } | undefined;

  /** One SMC arriving at EL3 from the normal world. */
  smc(regs: RegisterFile): RegisterFile {
    const out = this.honest(regs);
    return this.hostile === undefined ? out : this.hostile.answer(regs, out);
  }

  private honest(regs: RegisterFile): RegisterFile {
    const fid = (regs.w(0) & ~0x10000) >>> 0;
    const ffa = isFastCall(fid) && fidOwner(fid) === 4 && fidNumber(fid) >= 0x60 && fidNumber(fid) <= 0xff;
    if (!ffa) {
      if (this.trace !== undefined) emitRule(this.trace, 'spmd/not-ffa', 'SMCCC NOT_SUPPORTED', regs.w(0));
      return new RegisterFile().setX(0, -1n);
    }
    if (fid === FFA.EL3_INTR_HANDLE) {
      if (this.trace !== undefined) emitRule(this.trace, 'spmd/el3-intr-handle', 'NOT_SUPPORTED');
      return new RegisterFile().setW(0, FFA.ERROR).setW(2, -1 >>> 0);
    }
    this.trace?.emit({ kind: 'hop', from: 'spmd', to: 'spmc', dir: 'call', regs: hopRegs(this.trace, regs) });
    const out = this.spmc.smc(regs);
    this.trace?.emit({ kind: 'hop', from: 'spmc', to: 'spmd', dir: 'ret', regs: hopRegs(this.trace, out) });
    return out;
  }
}
