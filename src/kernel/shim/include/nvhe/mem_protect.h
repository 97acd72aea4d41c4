/* ffasim shim: the mem_protect.c transitions ffa.c calls, served by the world's Stage2 (src/mem/stage2.ts). */
#ifndef FFASIM_NVHE_MEM_PROTECT_H
#define FFASIM_NVHE_MEM_PROTECT_H
#include <nvhe/memory.h>
static inline int __pkvm_host_share_hyp(u64 pfn) { return ffasim_host_share_hyp(pfn); }
static inline int __pkvm_host_unshare_hyp(u64 pfn) { return ffasim_host_unshare_hyp(pfn); }
static inline int __pkvm_host_share_ffa(u64 pfn, u64 nr_pages) { return ffasim_host_share_ffa(pfn, nr_pages); }
static inline int __pkvm_host_unshare_ffa(u64 pfn, u64 nr_pages) { return ffasim_host_unshare_ffa(pfn, nr_pages); }
/* [from, to) in hyp VA, widened to pages as mem_protect.c does. */
static inline int hyp_pin_shared_mem(void *from, void *to)
{
	u64 start = ALIGN_DOWN((u64)(unsigned long)from, PAGE_SIZE);
	u64 end = PAGE_ALIGN((u64)(unsigned long)to);
	return ffasim_pin(ffasim_virt_to_phys((void *)(unsigned long)start), (end - start) >> PAGE_SHIFT);
}
static inline void hyp_unpin_shared_mem(void *from, void *to)
{
	u64 start = ALIGN_DOWN((u64)(unsigned long)from, PAGE_SIZE);
	u64 end = PAGE_ALIGN((u64)(unsigned long)to);
	ffasim_unpin(ffasim_virt_to_phys((void *)(unsigned long)start), (end - start) >> PAGE_SHIFT);
}
#endif
