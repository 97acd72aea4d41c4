/*
 * ffasim kernel-mode harness, world side: a Node-API addon around ffa_unit.c. It gives the kernel's ffa.c the
 * world it calls out to: SMCs to EL3, page-state transitions and the hyp's address map. All of them go to the
 * TypeScript world (src/kernel/hyp.ts) through one JS dispatcher, with arguments and register files in a shared
 * mailbox (no allocation per call). ffasim's own code (MIT). docs/kernel-mode.md describes the design.
 *
 * The hyp's address map is a window of host memory:
 *
 *   [guard][hyp pages: TX, RX, ffa_desc_buf ...][guard][slot 0][guard][slot 1][guard] ...
 *
 * The hyp pages and every slot in use are also the world's PhysMem for those physical pages (the TypeScript
 * side backs PhysMem frames with views of this window), so the C code and the model SPMC read and write the same
 * bytes. A slot maps one host page while it is shared with the hyp (__pkvm_host_share_hyp .. unshare_hyp).
 * Guards and free slots are inaccessible: poisoned under ASan (an access is a report naming the ffa.c line),
 * PROT_NONE otherwise (an access is a fault, as at EL2).
 *
 * A fault of the code — an access to an address the process has no mapping for, e.g. past the window — is the
 * EL2 data abort it would be on hardware: while a call into the unit runs (and not inside a JS callback), the
 * SIGSEGV/SIGBUS handler stops the call (ABORT_FAULT) and the TypeScript side reports the address and the ffa.c
 * line of the faulting instruction. Any other fault goes to the handler installed before ours.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <node_api.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ffasim/iface.h"

#ifdef FFASIM_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define NSLOTS 8
#define MAX_LOCKS 16

enum op {
	OP_SMC = 1,
	OP_SHARE_HYP = 2,
	OP_UNSHARE_HYP = 3,
	OP_SHARE_FFA = 4,
	OP_UNSHARE_FFA = 5,
	OP_PIN = 6,
	OP_UNPIN = 7,
};

/* A page-state call's answer from the JS side meaning "stop this host call": it never returns (hyp.ts). */
#define OP_RC_HANG (-100002)

/* Why a host call did not return normally (ffasim_unit_host_smc's result otherwise: 0 forwarded, 1 handled). */
enum abort_kind {
	ABORT_BUG = -100001,/* BUG_ON / a harness-detected EL2 bug (lock discipline, unmapped address) */
	ABORT_HANG = -100002,/* the JS side stopped a call that did not return (too many EL3 calls) */
	ABORT_THROW = -100003,/* a JS exception in a callback: rethrown to the caller */
	ABORT_OOB = -100004,/* a copy past the end of a hyp buffer (stopped before it happens) */
	ABORT_FAULT = -100005,/* an access the MMU refused (SIGSEGV/SIGBUS in the code): EL2 data abort */
};

/*
 * Mailbox layout (bytes), shared with src/kernel/hyp.ts:
 *   0..143   x0-x17 (u64 little-endian = the RegisterFile's u32 words)
 *   160..223 f64 args[8]
 *   224      u32 hyp_ffa_version      228 u32 has_version_negotiated
 *   232      f64 host_buffers.tx PA (-1 when NULL)   240 f64 host_buffers.rx PA
 */
static union {
	unsigned char bytes[256];
	unsigned long long regs[18];
	double f64[32];
	uint32_t u32[64];
} mbox __attribute__((aligned(64)));
#define ARG(i) (mbox.f64[20 + (i)])

struct slot {
	int used;
	unsigned long long phys;
};

struct inst {
	unsigned char *window;  /* aligned to the world's page size: hyp VAs are page-aligned as at EL2 */
	size_t window_len;
	void *map;              /* the mmap behind it */
	size_t map_len;
	size_t page;           /* the world's page size (PAGE_SIZE of the build) */
	unsigned long long hyp_phys;
	size_t hyp_pages;
	struct slot slots[NSLOTS];
	void *state;           /* the unit's globals while another instance runs */
	void *locks[MAX_LOCKS];
	int nlocks;
};

static napi_env g_env;
static napi_ref g_dispatch;    /* (op) => int */
static napi_ref g_event;       /* (kind, file, line, func, text) => void */
static struct inst *g_cur;     /* the instance whose state the unit's globals hold */
static jmp_buf *g_jmp;         /* set while a call into the unit runs */
static int g_threw;
static int g_in_js;            /* a JS callback runs: a fault there is not the unit's */
static struct sigaction g_old_segv, g_old_bus;
static volatile uintptr_t g_fault_addr, g_fault_pc;
static volatile int g_fault_sig;
unsigned long ffasim_proxy_pages;

static size_t hyp_off(const struct inst *in) { return in->page; }
static size_t slot_off(const struct inst *in, int i)
{
	return in->page + in->hyp_pages * in->page + in->page + (size_t)i * 2 * in->page;
}

/*
 * Makes [off, off + len) of the window accessible or not; nonzero when the kernel refused (ENOMEM: more
 * mappings than vm.max_map_count, every mprotect may split one).
 */
static int protect(struct inst *in, size_t off, size_t len, int accessible)
{
#ifdef FFASIM_ASAN
	(void)in;
	if (accessible)
		ASAN_UNPOISON_MEMORY_REGION(in->window + off, len);
	else
		ASAN_POISON_MEMORY_REGION(in->window + off, len);
	return 0;
#else
	return mprotect(in->window + off, len, accessible ? PROT_READ | PROT_WRITE : PROT_NONE);
#endif
}

/*
 * Windows of collected instances, kept for the next create of the same size: a fuzz campaign makes a world per
 * sequence, and a recycled window saves its mmap, munmap and first-touch page faults. What a window held is
 * never seen again: create makes all of it inaccessible but the hyp pages, whose bytes PhysMem.attach
 * overwrites, and a slot is overwritten the same way when a host page is shared into it.
 */
#define POOL_MAX 512
#define POOL_BYTES (32UL << 20) /* of windows kept, their touched pages stay resident */

/*
 * Address space reserved (PROT_NONE, no memory) around each window. Offsets the code takes from descriptors are
 * 32-bit (ep_mem_offset, composite_off, a constituent index × 16), so a read the host or the SPMC steers past
 * the hyp pages lands within 9 GiB after them: always in the guard, a fault whatever else the process has
 * mapped — the same finding on every run, not one that depends on where the heap happens to be.
 */
#define GUARD_BEFORE (64ULL << 10)
#define GUARD_AFTER (9ULL << 30)
static struct {
	void *map;
	size_t len;
} g_pool[POOL_MAX];
static int g_npool;
static size_t g_pool_bytes;

static __attribute__((noreturn)) void abort_call(int kind)
{
	if (g_jmp == NULL) {
		fprintf(stderr, "ffasim: EL2 abort outside a call\n");
		abort();
	}
	longjmp(*g_jmp, kind);
}

static int dispatch(int op)
{
	napi_value fn, undef, arg, res;
	int32_t rc = 0;

	napi_get_reference_value(g_env, g_dispatch, &fn);
	napi_get_undefined(g_env, &undef);
	napi_create_int32(g_env, op, &arg);
	g_in_js = 1;
	if (napi_call_function(g_env, undef, fn, 1, &arg, &res) != napi_ok) {
		g_in_js = 0;
		g_threw = 1;
		abort_call(ABORT_THROW);
	}
	g_in_js = 0;
	napi_get_value_int32(g_env, res, &rc);
	return rc;
}

static void event(const char *kind, const char *file, int line, const char *func, const char *text)
{
	napi_value fn, undef, argv[5], res;

	napi_get_reference_value(g_env, g_event, &fn);
	napi_get_undefined(g_env, &undef);
	napi_create_string_utf8(g_env, kind, NAPI_AUTO_LENGTH, &argv[0]);
	napi_create_string_utf8(g_env, file, NAPI_AUTO_LENGTH, &argv[1]);
	napi_create_int32(g_env, line, &argv[2]);
	napi_create_string_utf8(g_env, func, NAPI_AUTO_LENGTH, &argv[3]);
	napi_create_string_utf8(g_env, text, NAPI_AUTO_LENGTH, &argv[4]);
	g_in_js = 1;
	if (napi_call_function(g_env, undef, fn, 5, argv, &res) != napi_ok) {
		g_in_js = 0;
		g_threw = 1;
		abort_call(ABORT_THROW);
	}
	g_in_js = 0;
}

static uintptr_t pc_of(void *uc)
{
	ucontext_t *u = uc;

#if defined(__x86_64__)
	return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (uintptr_t)u->uc_mcontext.pc;
#else
	(void)u;
	return 0;
#endif
}

/* SIGSEGV/SIGBUS: the unit's fault stops its call; anything else goes to the handler before ours. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *old = sig == SIGBUS ? &g_old_bus : &g_old_segv;

	if (g_jmp != NULL && g_cur != NULL && !g_in_js) {
		g_fault_sig = sig;
		g_fault_addr = (uintptr_t)si->si_addr;
		g_fault_pc = pc_of(uc);
		longjmp(*g_jmp, ABORT_FAULT);
	}
	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, si, uc);
		return;
	}
	if (old->sa_handler == SIG_IGN)
		return;
	if (old->sa_handler == SIG_DFL) {
		/* The faulting instruction runs again and the default action ends the process. */
		signal(sig, SIG_DFL);
		return;
	}
	old->sa_handler(sig);
}

static void install_fault_handler(void)
{
	static int done;
	struct sigaction sa;

	if (done)
		return;
	done = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	/* NODEFER: the handler leaves by longjmp, so the signal must not stay blocked. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &g_old_segv);
	sigaction(SIGBUS, &sa, &g_old_bus);
}

/*
 * After a fault: the faulting instruction as "<object>\t<offset in it>" (for addr2line on the TypeScript side)
 * and the address, as an offset from the hyp pages when it is near the window.
 */
static void report_fault(struct inst *in)
{
	Dl_info di;
	char text[512];
	const char *obj = "?";
	unsigned long long pcoff = 0;
	long long rel = (long long)(g_fault_addr - (uintptr_t)(in->window + hyp_off(in)));

	memset(&di, 0, sizeof(di));
	if (dladdr((void *)g_fault_pc, &di) != 0 && di.dli_fname != NULL) {
		obj = di.dli_fname;
		pcoff = (unsigned long long)(g_fault_pc - (uintptr_t)di.dli_fbase);
	}
	snprintf(text, sizeof(text), "%s\t0x%llx\t%d\t0x%llx\t%lld\t%zu", obj, pcoff, (int)g_fault_sig,
		 (unsigned long long)g_fault_addr, rel, in->hyp_pages * in->page);
	event("fault", obj, 0, di.dli_sname != NULL ? di.dli_sname : "?", text);
}

/* ---- the world, as ffa_unit.c sees it (ffasim/iface.h) ---- */

void ffasim_smc(unsigned long long regs[18])
{
	memcpy(mbox.regs, regs, sizeof(mbox.regs));
	if (dispatch(OP_SMC) != 0)
		abort_call(ABORT_HANG);
	memcpy(regs, mbox.regs, sizeof(mbox.regs));
}

int ffasim_host_share_hyp(unsigned long long pfn)
{
	struct inst *in = g_cur;
	int i, rc;

	for (i = 0; i < NSLOTS && in->slots[i].used; i++)
		;
	if (i == NSLOTS)
		ffasim_bug(__FILE__, __LINE__, __func__, "ffasim: more host pages shared with the hyp than the window has slots");
	if (protect(in, slot_off(in, i), in->page, 1) != 0)
		ffasim_bug(__FILE__, __LINE__, __func__,
			   "ffasim: mprotect of a window slot failed (more mappings than vm.max_map_count?)");
	ARG(0) = (double)pfn;
	ARG(1) = (double)slot_off(in, i);
	rc = dispatch(OP_SHARE_HYP);
	if (rc == 0) {
		in->slots[i].used = 1;
		in->slots[i].phys = pfn * in->page;
	} else {
		protect(in, slot_off(in, i), in->page, 0);
	}
	return rc;
}

int ffasim_host_unshare_hyp(unsigned long long pfn)
{
	struct inst *in = g_cur;
	int i, rc;

	ARG(0) = (double)pfn;
	rc = dispatch(OP_UNSHARE_HYP);
	if (rc == 0) {
		for (i = 0; i < NSLOTS; i++) {
			if (in->slots[i].used && in->slots[i].phys == pfn * in->page) {
				in->slots[i].used = 0;
				protect(in, slot_off(in, i), in->page, 0);
			}
		}
	}
	return rc;
}

static int op2(int op, unsigned long long a, unsigned long long b)
{
	int rc;

	ARG(0) = (double)a;
	ARG(1) = (double)b;
	rc = dispatch(op);
	/* More page-state calls for one host call than any descriptor can hold ranges: a hyp that does not return. */
	if (rc == OP_RC_HANG)
		abort_call(ABORT_HANG);
	return rc;
}

int ffasim_host_share_ffa(unsigned long long pfn, unsigned long long n) { return op2(OP_SHARE_FFA, pfn, n); }
int ffasim_host_unshare_ffa(unsigned long long pfn, unsigned long long n) { return op2(OP_UNSHARE_FFA, pfn, n); }
int ffasim_pin(unsigned long long phys, unsigned long long pages) { return op2(OP_PIN, phys, pages); }
void ffasim_unpin(unsigned long long phys, unsigned long long pages) { op2(OP_UNPIN, phys, pages); }

/* Where an unmapped physical address "is" at EL2: a non-canonical address (any access faults). */
#define UNMAPPED_TAG 0xdead000000000000ULL

void *ffasim_phys_to_virt(unsigned long long phys)
{
	struct inst *in = g_cur;
	int i;

	if (phys >= in->hyp_phys && phys < in->hyp_phys + in->hyp_pages * in->page)
		return in->window + hyp_off(in) + (phys - in->hyp_phys);
	for (i = 0; i < NSLOTS; i++) {
		if (in->slots[i].used && phys >= in->slots[i].phys && phys < in->slots[i].phys + in->page)
			return in->window + slot_off(in, i) + (phys - in->slots[i].phys);
	}
	return (void *)(uintptr_t)(UNMAPPED_TAG ^ phys);
}

unsigned long long ffasim_virt_to_phys(const void *virt)
{
	struct inst *in = g_cur;
	const unsigned char *p = virt;
	uintptr_t v = (uintptr_t)virt;
	int i;

	if (p >= in->window + hyp_off(in) && p < in->window + hyp_off(in) + in->hyp_pages * in->page)
		return in->hyp_phys + (unsigned long long)(p - (in->window + hyp_off(in)));
	for (i = 0; i < NSLOTS; i++) {
		const unsigned char *s = in->window + slot_off(in, i);
		/* A slot's end address still names its page (hyp_unpin_shared_mem(tx, tx + 1) style ranges). */
		if (in->slots[i].used && p >= s && p <= s + in->page)
			return in->slots[i].phys + (unsigned long long)(p - s);
	}
	if ((v & 0xffff000000000000ULL) == UNMAPPED_TAG)
		return v ^ UNMAPPED_TAG;
	if (v < in->page) {
		/*
		 * A hyp buffer that was never allocated (hyp_ffa_init returned before it set hyp_buffers): on
		 * hardware __hyp_pa is arithmetic, NULL + hyp_physvirt_offset, a PA no one checks. Here it is the
		 * tagged PA no RAM has (so __hyp_va gives NULL back), and the trace says which ffa.c line asked.
		 */
		Dl_info di;
		char text[640];
		const char *obj = "?";
		unsigned long long pcoff = 0;
		void *pc = __builtin_return_address(0);

		memset(&di, 0, sizeof(di));
		if (dladdr(pc, &di) != 0 && di.dli_fname != NULL) {
			obj = di.dli_fname;
			pcoff = (unsigned long long)((uintptr_t)pc - (uintptr_t)di.dli_fbase);
		}
		snprintf(text, sizeof(text), "%s\t0x%llx\t0x%llx\t0x%llx", obj, pcoff, (unsigned long long)v,
			 UNMAPPED_TAG ^ v);
		event("nullpa", obj, 0, di.dli_sname != NULL ? di.dli_sname : "?", text);
		return UNMAPPED_TAG ^ v;
	}
	ffasim_bug(__FILE__, __LINE__, __func__, "ffasim: __hyp_pa of an address outside the hyp's map");
}

void ffasim_warn(const char *file, int line, const char *func, const char *cond)
{
	event("warn", file, line, func, cond);
}

void ffasim_bug(const char *file, int line, const char *func, const char *what)
{
	event("bug", file, line, func, what);
	abort_call(ABORT_BUG);
}

/*
 * The hyp buffer p points into: the TX and RX mailboxes (one page each), ffa_desc_buf (the rest of the hyp
 * pages; hyp_ffa_init lays them out in that order), or a host page shared with the hyp (the host's TX/RX).
 */
static const char *buffer_of(const struct inst *in, const unsigned char *p, const unsigned char **start,
			     size_t *len)
{
	const unsigned char *h = in->window + hyp_off(in);
	int i;

	if (p >= h && p < h + in->page) {
		*start = h;
		*len = in->page;
		return "the hyp TX mailbox";
	}
	if (p >= h + in->page && p < h + 2 * in->page) {
		*start = h + in->page;
		*len = in->page;
		return "the hyp RX mailbox";
	}
	if (p >= h + 2 * in->page && p < h + in->hyp_pages * in->page) {
		*start = h + 2 * in->page;
		*len = (in->hyp_pages - 2) * in->page;
		return "ffa_desc_buf";
	}
	for (i = 0; i < NSLOTS; i++) {
		const unsigned char *sl = in->window + slot_off(in, i);

		if (in->slots[i].used && p >= sl && p < sl + in->page) {
			*start = sl;
			*len = in->page;
			return "a host page shared with the hyp";
		}
	}
	return NULL;
}

/*
 * Every memcpy/memset of the code (prelude.h): one that starts inside a hyp buffer and runs past its end is
 * an EL2 out-of-bounds access. On hardware it would read or overwrite the neighbouring hyp page in silence (the
 * mailboxes and ffa_desc_buf are adjacent); here the call stops before the copy and ffasim reports it (I6).
 */
void ffasim_check_copy(const void *dst, const void *src, unsigned long n, const char *file, int line,
		       const char *func)
{
	const unsigned char *ends[2] = { src, dst };
	const char *verbs[2] = { "read", "write" };
	int k;

	if (g_cur == NULL || n == 0)
		return;
	for (k = 0; k < 2; k++) {
		const unsigned char *start;
		size_t len;
		const char *name;
		char text[192];
		size_t off;

		if (ends[k] == NULL)
			continue;
		name = buffer_of(g_cur, ends[k], &start, &len);
		if (name == NULL)
			continue;
		off = (size_t)(ends[k] - start);
		if (n <= len - off)
			continue;
		snprintf(text, sizeof(text), "%s\t%zu\t%lu\t%zu\t%s", name, off, n, len, verbs[k]);
		event("oob", file, line, func, text);
		abort_call(ABORT_OOB);
	}
}

void ffasim_lock(void *lock, const char *func)
{
	struct inst *in = g_cur;
	uint32_t *v = lock;

	if (*v != 0)
		ffasim_bug("spinlock", 0, func, "hyp_spin_lock of a lock this CPU already holds (EL2 self-deadlock)");
	*v = 1;
	if (in->nlocks < MAX_LOCKS)
		in->locks[in->nlocks++] = lock;
}

void ffasim_unlock(void *lock, const char *func)
{
	struct inst *in = g_cur;
	uint32_t *v = lock;
	int i;

	if (*v == 0)
		ffasim_bug("spinlock", 0, func, "hyp_spin_unlock of a lock that is not held");
	*v = 0;
	for (i = in->nlocks - 1; i >= 0; i--) {
		if (in->locks[i] == lock) {
			in->locks[i] = in->locks[--in->nlocks];
			break;
		}
	}
}

/* ---- instances ---- */

static void switch_to(struct inst *in)
{
	if (g_cur == in)
		return;
	if (g_cur != NULL)
		ffasim_unit_state_save(g_cur->state);
	ffasim_unit_state_load(in->state);
	g_cur = in;
}

static void window_finalize(napi_env env, void *data, void *hint)
{
	struct inst *in = hint;

	(void)env;
	(void)data;
	if (g_cur == in)
		g_cur = NULL;
#ifdef FFASIM_ASAN
	ASAN_UNPOISON_MEMORY_REGION(in->window, in->window_len);
#endif
	if (g_npool < POOL_MAX && g_pool_bytes + in->window_len <= POOL_BYTES) {
		g_pool[g_npool].map = in->map;
		g_pool[g_npool].len = in->map_len;
		g_npool++;
		g_pool_bytes += in->window_len;
	} else {
		munmap(in->map, in->map_len);
	}
	free(in->state);
	free(in);
}

static void observe(void)
{
	unsigned int version;
	int negotiated;
	const void *tx, *rx;

	ffasim_unit_observe(&version, &negotiated, &tx, &rx);
	mbox.u32[56] = version;
	mbox.u32[57] = (uint32_t)negotiated;
	mbox.f64[29] = tx == NULL ? -1.0 : (double)ffasim_virt_to_phys(tx);
	mbox.f64[30] = rx == NULL ? -1.0 : (double)ffasim_virt_to_phys(rx);
}

/* Runs fn(in, arg) with the abort point set; returns its result or an abort_kind. */
static int guarded(struct inst *in, int (*fn)(struct inst *, unsigned int), unsigned int arg)
{
	jmp_buf jb;
	jmp_buf *saved = g_jmp;
	int rc, i;

	switch_to(in);
	g_threw = 0;
	rc = setjmp(jb);
	if (rc == 0) {
		g_jmp = &jb;
		rc = fn(in, arg);
		g_jmp = saved;
		if (in->nlocks != 0) {
			g_jmp = &jb;
			if (setjmp(jb) == 0)
				ffasim_bug("spinlock", 0, "kvm_host_ffa_handler", "returned to the host holding a hyp spinlock");
			g_jmp = saved;
			rc = ABORT_BUG;
		}
	} else {
		g_jmp = saved;
	}
	if (rc == ABORT_FAULT) {
		g_in_js = 0;
		report_fault(in);
	}
	if (rc < 0) {
		/* The call did not finish: release what it held so the world can go on (the hyp would be wedged). */
		for (i = 0; i < in->nlocks; i++)
			*(uint32_t *)in->locks[i] = 0;
		in->nlocks = 0;
	}
	if (!g_threw)
		observe();
	return rc;
}

static int run_init(struct inst *in, unsigned int smccc)
{
	return ffasim_unit_init(in->window + hyp_off(in), smccc);
}

static int run_smc(struct inst *in, unsigned int unused)
{
	unsigned long long regs[18];
	int rc;

	(void)in;
	(void)unused;
	memcpy(regs, mbox.regs, sizeof(regs));
	rc = ffasim_unit_host_smc(regs);
	memcpy(mbox.regs, regs, sizeof(regs));
	return rc;
}

/* ---- JS functions ---- */

#define CHECK(call)                                                                   \
	do {                                                                          \
		if ((call) != napi_ok) {                                              \
			napi_throw_error(env, NULL, "ffasim bridge: " #call " failed"); \
			return NULL;                                                  \
		}                                                                     \
	} while (0)

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	size_t argc = want;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < want) {
		napi_throw_type_error(env, NULL, "ffasim bridge: too few arguments");
		return NULL;
	}
	return argv[0];
}

/* setCallbacks(dispatch, event): the JS side of every call out of the code. */
static napi_value js_set_callbacks(napi_env env, napi_callback_info info)
{
	napi_value argv[2];

	if (get_args(env, info, 2, argv) == NULL)
		return NULL;
	if (g_dispatch != NULL)
		napi_delete_reference(env, g_dispatch);
	if (g_event != NULL)
		napi_delete_reference(env, g_event);
	CHECK(napi_create_reference(env, argv[0], 1, &g_dispatch));
	CHECK(napi_create_reference(env, argv[1], 1, &g_event));
	g_env = env;
	return NULL;
}

static napi_value js_mailbox(napi_env env, napi_callback_info info)
{
	static napi_ref ref;
	napi_value ab;

	(void)info;
	if (ref != NULL) {
		CHECK(napi_get_reference_value(env, ref, &ab));
		return ab;
	}
	CHECK(napi_create_external_arraybuffer(env, mbox.bytes, sizeof(mbox), NULL, NULL, &ab));
	CHECK(napi_create_reference(env, ab, 1, &ref));
	return ab;
}

/* create(hypPhys, hypPages, pageSize) → [handle, window ArrayBuffer, hyp offset, slot count] */
static napi_value js_create(napi_env env, napi_callback_info info)
{
	napi_value argv[3], out, handle, ab, v;
	double hyp_phys;
	uint32_t hyp_pages, page;
	struct inst *in;
	int i;

	if (get_args(env, info, 3, argv) == NULL)
		return NULL;
	CHECK(napi_get_value_double(env, argv[0], &hyp_phys));
	CHECK(napi_get_value_uint32(env, argv[1], &hyp_pages));
	CHECK(napi_get_value_uint32(env, argv[2], &page));
	in = calloc(1, sizeof(*in));
	in->page = page;
	in->hyp_phys = (unsigned long long)hyp_phys;
	in->hyp_pages = hyp_pages;
	in->window_len = slot_off(in, NSLOTS);
	in->map_len = GUARD_BEFORE + in->window_len + page + GUARD_AFTER;
	in->map = MAP_FAILED;
	for (i = g_npool - 1; i >= 0; i--) {
		if (g_pool[i].len == in->map_len) {
			in->map = g_pool[i].map;
			g_pool[i] = g_pool[--g_npool];
			g_pool_bytes -= in->window_len;
			break;
		}
	}
	if (in->map == MAP_FAILED)
		in->map = mmap(NULL, in->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (in->map == MAP_FAILED) {
		free(in);
		napi_throw_error(env, NULL, "ffasim bridge: mmap of the hyp window failed");
		return NULL;
	}
	in->window = (unsigned char *)(((uintptr_t)in->map + GUARD_BEFORE + page - 1) & ~(uintptr_t)(page - 1));
	in->state = calloc(1, ffasim_unit_state_size());
	/* Everything but the hyp pages starts inaccessible. */
	if (
#ifdef FFASIM_ASAN
	    /* ASan builds poison instead of protecting: the whole window is mapped, the guards are not. */
	    mprotect(in->window, in->window_len, PROT_READ | PROT_WRITE) != 0 ||
#endif
	    protect(in, 0, in->window_len, 0) != 0 || protect(in, hyp_off(in), in->hyp_pages * in->page, 1) != 0) {
		munmap(in->map, in->map_len);
		free(in->state);
		free(in);
		napi_throw_error(env, NULL,
				 "ffasim bridge: mprotect of a new hyp window failed: more mappings than vm.max_map_count "
				 "(worlds made in a loop that never yields to the event loop are only freed when it does)");
		return NULL;
	}
	for (i = 0; i < NSLOTS; i++)
		in->slots[i].used = 0;
	CHECK(napi_create_external(env, in, NULL, NULL, &handle));
	CHECK(napi_create_external_arraybuffer(env, in->window, in->window_len, window_finalize, in, &ab));
	CHECK(napi_create_array_with_length(env, 4, &out));
	CHECK(napi_set_element(env, out, 0, handle));
	CHECK(napi_set_element(env, out, 1, ab));
	CHECK(napi_create_double(env, (double)hyp_off(in), &v));
	CHECK(napi_set_element(env, out, 2, v));
	CHECK(napi_create_uint32(env, NSLOTS, &v));
	CHECK(napi_set_element(env, out, 3, v));
	return out;
}

static struct inst *get_inst(napi_env env, napi_value v)
{
	void *p = NULL;

	if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
		napi_throw_type_error(env, NULL, "ffasim bridge: not an instance handle");
		return NULL;
	}
	return p;
}

/* init(handle, smcccVersion, proxyPages) → hyp_ffa_init's return value, or an abort kind */
static napi_value js_init(napi_env env, napi_callback_info info)
{
	napi_value argv[3], out;
	uint32_t smccc, pages;
	struct inst *in;
	int rc;

	if (get_args(env, info, 3, argv) == NULL)
		return NULL;
	if ((in = get_inst(env, argv[0])) == NULL)
		return NULL;
	CHECK(napi_get_value_uint32(env, argv[1], &smccc));
	CHECK(napi_get_value_uint32(env, argv[2], &pages));
	switch_to(in);
	ffasim_unit_state_reset();
	ffasim_proxy_pages = pages;
	rc = guarded(in, run_init, smccc);
	if (g_threw)
		return NULL;
	CHECK(napi_create_int32(env, rc, &out));
	return out;
}

/* hostSmc(handle) → 1 handled, 0 forwarded, < 0 aborted; x0-x17 in and out through the mailbox */
static napi_value js_host_smc(napi_env env, napi_callback_info info)
{
	napi_value argv[1], out;
	struct inst *in;
	int rc;

	if (get_args(env, info, 1, argv) == NULL)
		return NULL;
	if ((in = get_inst(env, argv[0])) == NULL)
		return NULL;
	rc = guarded(in, run_smc, 0);
	if (g_threw)
		return NULL;
	CHECK(napi_create_int32(env, rc, &out));
	return out;
}

static napi_value js_asan(napi_env env, napi_callback_info info)
{
	napi_value out;

	(void)info;
#ifdef FFASIM_ASAN
	CHECK(napi_get_boolean(env, 1, &out));
#else
	CHECK(napi_get_boolean(env, 0, &out));
#endif
	return out;
}

#ifdef FFASIM_COVERAGE
/* libgcov: write the counters to the .gcda file now (and not again at exit), or zero them. */
extern void __gcov_dump(void);
extern void __gcov_reset(void);
#endif

/* gcov(op): 1 = dump the counters, 2 = reset them; returns false in a build without --coverage. */
static napi_value js_gcov(napi_env env, napi_callback_info info)
{
	napi_value argv[1], out;
	int32_t op = 0;

	if (get_args(env, info, 1, argv) == NULL)
		return NULL;
	CHECK(napi_get_value_int32(env, argv[0], &op));
#ifdef FFASIM_COVERAGE
	if (op == 1)
		__gcov_dump();
	else if (op == 2)
		__gcov_reset();
	CHECK(napi_get_boolean(env, 1, &out));
#else
	CHECK(napi_get_boolean(env, 0, &out));
#endif
	return out;
}

static napi_value init_module(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{ "setCallbacks", NULL, js_set_callbacks, NULL, NULL, NULL, napi_default, NULL },
		{ "mailbox", NULL, js_mailbox, NULL, NULL, NULL, napi_default, NULL },
		{ "create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL },
		{ "init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL },
		{ "hostSmc", NULL, js_host_smc, NULL, NULL, NULL, napi_default, NULL },
		{ "asan", NULL, js_asan, NULL, NULL, NULL, napi_default, NULL },
		{ "gcov", NULL, js_gcov, NULL, NULL, NULL, napi_default, NULL },
	};

	g_env = env;
	install_fault_handler();
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
