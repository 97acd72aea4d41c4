/* ffasim shim: the saved host context the handler reads and writes (x0-x17 of it come from the world). */
#ifndef FFASIM_ASM_KVM_HOST_H
#define FFASIM_ASM_KVM_HOST_H
#include <ffasim/prelude.h>
struct user_pt_regs {
	u64 regs[31];
	u64 sp;
	u64 pc;
	u64 pstate;
};
struct kvm_cpu_context {
	struct user_pt_regs regs;
};
/* The PSCI/SMCCC view of the host the hyp keeps (psci-relay.c); ffa.c reads smccc_version at init. */
struct kvm_host_psci_config {
	u32 version;
	u32 smccc_version;
};
extern struct kvm_host_psci_config kvm_host_psci_config;
#endif
