/* ffasim shim: register access on the saved host context. */
#ifndef FFASIM_NVHE_TRAP_HANDLER_H
#define FFASIM_NVHE_TRAP_HANDLER_H
#include <asm/kvm_host.h>
#define cpu_reg(ctxt, r) (ctxt)->regs.regs[r]
/* The unused int makes a non-literal register number a compile error, as in the kernel. */
#define DECLARE_REG(type, name, ctxt, reg)            \
	__always_unused int ___check_reg_##reg;       \
	type name = (type)cpu_reg(ctxt, (reg))
#endif
