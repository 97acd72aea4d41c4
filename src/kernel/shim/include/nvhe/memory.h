/*
 * ffasim shim: the hyp's address translation. The hyp VA of a physical page is where ffasim maps its bytes:
 * the hyp's own pages and the host pages shared with it live in one window of host memory that is also the
 * world's PhysMem for those pages (coherent: no copies). Other physical addresses translate to an address that
 * faults (or, under ASan, is reported).
 */
#ifndef FFASIM_NVHE_MEMORY_H
#define FFASIM_NVHE_MEMORY_H
#include <ffasim/prelude.h>
#define __hyp_va(phys) ffasim_phys_to_virt((u64)(phys))
#define __hyp_pa(virt) ((phys_addr_t)ffasim_virt_to_phys((const void *)(virt)))
#define hyp_phys_to_pfn(phys) ((phys) >> PAGE_SHIFT)
#define hyp_pfn_to_phys(pfn) ((phys_addr_t)((pfn) << PAGE_SHIFT))
static inline void *hyp_phys_to_virt(phys_addr_t phys) { return __hyp_va(phys); }
static inline phys_addr_t hyp_virt_to_phys(void *addr) { return __hyp_pa(addr); }
#define hyp_virt_to_pfn(virt) hyp_phys_to_pfn(__hyp_pa(virt))
#endif
