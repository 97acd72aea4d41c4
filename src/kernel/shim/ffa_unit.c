/*
 * ffasim kernel-mode harness, EL2 side: the unit that holds a kernel tree's arch/arm64/kvm/hyp/nvhe/ffa.c,
 * included unchanged (the build puts its directory on the quote path), plus the few EL2 entry points pKVM wraps
 * around it: hyp_ffa_init at boot, and hyp-main.c's handle_host_smc for an SMC the host issues. ffasim's own
 * code (MIT); the included ffa.c is the user's tree and is never copied into ffasim.
 *
 * Including the file (rather than linking it) gives the harness the proxy's static globals, so that several
 * worlds can share one loaded copy of the code (their states are swapped in and out) and the world can show
 * hyp_ffa_version and the host mailboxes as the model proxy does.
 */
#include "ffa.c"

/* psci-relay.c's view of the host's SMCCC version; ffa.c reads it in hyp_ffa_init. */
struct kvm_host_psci_config kvm_host_psci_config;

struct ffasim_unit_state {
	struct kvm_ffa_descriptor_buffer desc_buf;
	struct kvm_ffa_buffers hyp;
	struct kvm_ffa_buffers host;
	u32 version;
	bool negotiated;
	hyp_spinlock_t version_lock;
	struct kvm_host_psci_config psci;
};

unsigned long ffasim_unit_state_size(void)
{
	return sizeof(struct ffasim_unit_state);
}

void ffasim_unit_state_save(void *to)
{
	struct ffasim_unit_state *s = to;

	s->desc_buf = ffa_desc_buf;
	s->hyp = hyp_buffers;
	s->host = host_buffers;
	s->version = hyp_ffa_version;
	s->negotiated = has_version_negotiated;
	s->version_lock = version_lock;
	s->psci = kvm_host_psci_config;
}

void ffasim_unit_state_load(const void *from)
{
	const struct ffasim_unit_state *s = from;

	ffa_desc_buf = s->desc_buf;
	hyp_buffers = s->hyp;
	host_buffers = s->host;
	hyp_ffa_version = s->version;
	has_version_negotiated = s->negotiated;
	version_lock = s->version_lock;
	kvm_host_psci_config = s->psci;
}

/* A fresh boot: the proxy's globals as the zeroed .bss leaves them. */
void ffasim_unit_state_reset(void)
{
	struct ffasim_unit_state zero = { 0 };

	ffasim_unit_state_load(&zero);
}

int ffasim_unit_init(void *pages, unsigned int smccc_version)
{
	kvm_host_psci_config.smccc_version = smccc_version;
	return hyp_ffa_init(pages);
}

int ffasim_unit_host_smc(unsigned long long regs[18])
{
	struct kvm_cpu_context ctxt = { 0 };
	u64 func_id;
	int i;

	for (i = 0; i < 18; i++)
		ctxt.regs.regs[i] = regs[i];
	/* hyp-main.c handle_host_smc: the SMCCC call hints leave the local func_id, not host x0. */
	func_id = ctxt.regs.regs[0] & ~(u64)ARM_SMCCC_CALL_HINTS;
	if (!kvm_host_ffa_handler(&ctxt, func_id)) {
		/* Not handled: __kvm_hyp_host_forward_smc passes x0-x17 to EL3 unchanged, and its answer back. */
		ffasim_smc(regs);
		return 0;
	}
	for (i = 0; i < 18; i++)
		regs[i] = ctxt.regs.regs[i];
	return 1;
}

void ffasim_unit_observe(unsigned int *hyp_version, int *negotiated, const void **host_tx, const void **host_rx)
{
	*hyp_version = hyp_ffa_version;
	*negotiated = has_version_negotiated;
	*host_tx = host_buffers.tx;
	*host_rx = host_buffers.rx;
}
