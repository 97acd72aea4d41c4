/*
 * ffasim kernel-mode shim: the forced-include prelude (gcc -include) for compiling a kernel tree's
 * arch/arm64/kvm/hyp/nvhe/ffa.c unchanged in userspace. ffasim's own code (MIT), written from the C language,
 * GCC builtins and the Arm SMCCC / FF-A specifications; no kernel code. docs/kernel-mode.md says what each
 * definition stands for and how faithful it is.
 */
#ifndef FFASIM_PRELUDE_H
#define FFASIM_PRELUDE_H

#include <ffasim/iface.h>

/* ---- fixed-width types (AArch64 LP64, as the kernel's asm-generic/int-ll64.h gives them) ---- */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef u64 phys_addr_t;
typedef __SIZE_TYPE__ size_t;
typedef long ssize_t;
typedef unsigned long uintptr_t;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define CONFIG_64BIT 1
#define IS_ENABLED(x) 0
#define IS_REACHABLE(x) 0
#define IS_BUILTIN(x) 0

/* ---- compiler attributes ---- */
#define __packed __attribute__((__packed__))
#define __aligned(x) __attribute__((__aligned__(x)))
#define __always_unused __attribute__((__unused__))
#define __maybe_unused __attribute__((__unused__))
#define __always_inline inline __attribute__((__always_inline__))
#define __iomem
#define __user
#define __force
#define __must_check
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define offsetof(t, m) __builtin_offsetof(t, m)
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define container_of_const(ptr, type, member) container_of(ptr, type, member)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- bits ---- */
#define BIT(n) (1UL << (n))
#define BIT_ULL(n) (1ULL << (n))
#define GENMASK(h, l) (((~0UL) - (1UL << (l)) + 1) & (~0UL >> (63 - (h))))
#define GENMASK_ULL(h, l) (((~0ULL) - (1ULL << (l)) + 1) & (~0ULL >> (63 - (h))))
#define FIELD_GET(mask, reg) ((__typeof__(mask))(((reg) & (mask)) >> __builtin_ctzll(mask)))
#define FIELD_PREP(mask, val) ((__typeof__(mask))(((__typeof__(mask))(val) << __builtin_ctzll(mask)) & (mask)))

/* ---- sizes and pages (PAGE_SHIFT is the world's page size, given by the build) ---- */
#define SZ_4K 0x00001000
#define SZ_16K 0x00004000
#define SZ_64K 0x00010000
#ifndef FFASIM_PAGE_SHIFT
#define FFASIM_PAGE_SHIFT 12
#endif
#define PAGE_SHIFT FFASIM_PAGE_SHIFT
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define ALIGN(x, a) (((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define PAGE_ALIGN(x) ALIGN(x, PAGE_SIZE)
#define PAGE_ALIGNED(x) ((((unsigned long)(x)) & (PAGE_SIZE - 1)) == 0)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
/* The scatterlist bound the hyp sizes ffa_desc_buf with (SG_CHUNK_SIZE on arm64). */
#define SG_MAX_SEGMENTS 128

/* ---- errno (include/uapi/asm-generic/errno*.h values) ---- */
#define EPERM 1
#define ENOENT 2
#define ENOMEM 12
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ERANGE 34
#define EOPNOTSUPP 95

/* ---- arithmetic, atomics, memory ---- */
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#define check_sub_overflow(a, b, d) __builtin_sub_overflow(a, b, d)
#define check_mul_overflow(a, b, d) __builtin_mul_overflow(a, b, d)
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Copies into and out of hyp buffers are bounds-checked by the harness (bridge.c ffasim_check_copy): I6. */
#define memcpy(d, s, n)                                                                   \
	({                                                                                \
		void *__ffasim_d = (d);                                                   \
		const void *__ffasim_s = (s);                                             \
		unsigned long __ffasim_n = (n);                                           \
		ffasim_check_copy(__ffasim_d, __ffasim_s, __ffasim_n, __FILE__, __LINE__, __func__); \
		__builtin_memcpy(__ffasim_d, __ffasim_s, __ffasim_n);                     \
	})
#define memset(d, c, n)                                                                   \
	({                                                                                \
		void *__ffasim_d = (d);                                                   \
		unsigned long __ffasim_n = (n);                                           \
		ffasim_check_copy(__ffasim_d, (const void *)0, __ffasim_n, __FILE__, __LINE__, __func__); \
		__builtin_memset(__ffasim_d, (c), __ffasim_n);                            \
	})
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

/* ---- WARN/BUG: reported to ffasim (events), WARN continues as pKVM's EL2 WARN does, BUG does not return ---- */
#define WARN_ON(cond)                                                       \
	({                                                                  \
		int __ffasim_c = !!(cond);                                  \
		if (unlikely(__ffasim_c))                                   \
			ffasim_warn(__FILE__, __LINE__, __func__, #cond);   \
		unlikely(__ffasim_c);                                       \
	})
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define WARN(cond, ...) WARN_ON(cond)
#define BUG() ffasim_bug(__FILE__, __LINE__, __func__, "BUG()")
#define BUG_ON(cond)                                                        \
	do {                                                                \
		if (unlikely(cond))                                         \
			ffasim_bug(__FILE__, __LINE__, __func__, #cond);    \
	} while (0)
#define BUILD_BUG_ON(cond) ((void)sizeof(char[1 - 2 * !!(cond)]))

#endif
