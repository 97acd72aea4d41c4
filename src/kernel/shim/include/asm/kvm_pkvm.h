/*
 * ffasim shim: the pKVM constants ffa.c uses. The proxy's page count is the world's reservation (World.hypPages:
 * two mailbox pages, then ffa_desc_buf sized as hyp_ffa_proxy_pages() sizes it), passed at init.
 */
#ifndef FFASIM_ASM_KVM_PKVM_H
#define FFASIM_ASM_KVM_PKVM_H
#include <ffasim/prelude.h>
#define KVM_FFA_MBOX_NR_PAGES 1
static inline unsigned long hyp_ffa_proxy_pages(void) { return ffasim_proxy_pages; }
#endif
