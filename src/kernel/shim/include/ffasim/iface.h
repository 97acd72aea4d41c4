/*
 * ffasim kernel-mode shim: the interface between the unit that holds the kernel's ffa.c (ffa_unit.c, kernel
 * types) and the N-API bridge (bridge.c, C library and Node types). Only C base types here, so both sides can
 * include it. ffasim's own code (MIT).
 */
#ifndef FFASIM_IFACE_H
#define FFASIM_IFACE_H

/* ---- provided by bridge.c: the world outside EL2 ---- */

/* One SMC from the hyp to EL3 (the SPMD): x0-x17 in, x0-x17 out, in place. */
void ffasim_smc(unsigned long long regs[18]);
/* Host stage-2 / hyp page-state transitions (mem_protect.c); 0 or a negative errno. */
int ffasim_host_share_hyp(unsigned long long pfn);
int ffasim_host_unshare_hyp(unsigned long long pfn);
int ffasim_host_share_ffa(unsigned long long pfn, unsigned long long nr_pages);
int ffasim_host_unshare_ffa(unsigned long long pfn, unsigned long long nr_pages);
int ffasim_pin(unsigned long long phys, unsigned long long pages);
void ffasim_unpin(unsigned long long phys, unsigned long long pages);
/* The hyp's linear map, restricted to what is mapped at EL2: its own pages and host pages shared with it. */
void *ffasim_phys_to_virt(unsigned long long phys);
unsigned long long ffasim_virt_to_phys(const void *virt);
/* Events. ffasim_bug does not return. */
void ffasim_warn(const char *file, int line, const char *func, const char *cond);
void ffasim_bug(const char *file, int line, const char *func, const char *what) __attribute__((__noreturn__));
void ffasim_check_copy(const void *dst, const void *src, unsigned long n, const char *file, int line,
		       const char *func);
void ffasim_lock(void *lock, const char *func);
void ffasim_unlock(void *lock, const char *func);
/* hyp_ffa_proxy_pages(): the world reserves the pages; its count is the init argument. */
extern unsigned long ffasim_proxy_pages;

/* ---- provided by ffa_unit.c: EL2 entry points around the tree's code ---- */

/* hyp_ffa_init(pages) with kvm_host_psci_config.smccc_version = smccc_version. */
int ffasim_unit_init(void *pages, unsigned int smccc_version);
/* hyp-main.c handle_host_smc for an FF-A-or-other SMC: 1 when ffa.c handled it, 0 when it was forwarded. */
int ffasim_unit_host_smc(unsigned long long regs[18]);
/* The proxy's globals (the unit's .bss), so several worlds can share one loaded copy of the code. */
unsigned long ffasim_unit_state_size(void);
void ffasim_unit_state_save(void *to);
void ffasim_unit_state_load(const void *from);
void ffasim_unit_state_reset(void);
/* What the model proxy exposes as fields: hyp_ffa_version, has_version_negotiated, host_buffers.tx/rx. */
void ffasim_unit_observe(unsigned int *hyp_version, int *negotiated, const void **host_tx, const void **host_rx);

#endif
