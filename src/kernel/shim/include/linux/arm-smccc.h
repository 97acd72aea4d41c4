/*
 * ffasim shim: SMC Calling Convention (Arm DEN0028) function-ID fields and the SMC entry points. Every SMC the
 * hyp issues becomes one hyp -> SPMD hop in the ffasim world (ffasim_smc).
 */
#ifndef FFASIM_LINUX_ARM_SMCCC_H
#define FFASIM_LINUX_ARM_SMCCC_H
#include <ffasim/prelude.h>

#define ARM_SMCCC_STD_CALL 0UL
#define ARM_SMCCC_FAST_CALL 1UL
#define ARM_SMCCC_TYPE_SHIFT 31
#define ARM_SMCCC_SMC_32 0
#define ARM_SMCCC_SMC_64 1
#define ARM_SMCCC_CALL_CONV_SHIFT 30
#define ARM_SMCCC_OWNER_MASK 0x3F
#define ARM_SMCCC_OWNER_SHIFT 24
#define ARM_SMCCC_FUNC_MASK 0xFFFF
#define ARM_SMCCC_IS_FAST_CALL(v) ((v) & (ARM_SMCCC_FAST_CALL << ARM_SMCCC_TYPE_SHIFT))
#define ARM_SMCCC_IS_64(v) ((v) & (ARM_SMCCC_SMC_64 << ARM_SMCCC_CALL_CONV_SHIFT))
#define ARM_SMCCC_FUNC_NUM(v) ((v) & ARM_SMCCC_FUNC_MASK)
#define ARM_SMCCC_OWNER_NUM(v) (((v) >> ARM_SMCCC_OWNER_SHIFT) & ARM_SMCCC_OWNER_MASK)
#define ARM_SMCCC_CALL_VAL(type, conv, owner, num)                                          \
	(((type) << ARM_SMCCC_TYPE_SHIFT) | ((conv) << ARM_SMCCC_CALL_CONV_SHIFT) |          \
	 (((owner) & ARM_SMCCC_OWNER_MASK) << ARM_SMCCC_OWNER_SHIFT) | ((num) & ARM_SMCCC_FUNC_MASK))
#define ARM_SMCCC_OWNER_ARCH 0
#define ARM_SMCCC_OWNER_CPU 1
#define ARM_SMCCC_OWNER_SIP 2
#define ARM_SMCCC_OWNER_OEM 3
#define ARM_SMCCC_OWNER_STANDARD 4
#define ARM_SMCCC_OWNER_STANDARD_HYP 5
#define ARM_SMCCC_OWNER_VENDOR_HYP 6
#define ARM_SMCCC_OWNER_TRUSTED_APP 48
#define ARM_SMCCC_OWNER_TRUSTED_OS 50
#define ARM_SMCCC_1_3_SVE_HINT 0x10000
#define ARM_SMCCC_CALL_HINTS ARM_SMCCC_1_3_SVE_HINT
#define ARM_SMCCC_VERSION_1_0 0x10000
#define ARM_SMCCC_VERSION_1_1 0x10001
#define ARM_SMCCC_VERSION_1_2 0x10002
#define ARM_SMCCC_VERSION_1_3 0x10003
#define SMCCC_RET_SUCCESS 0
#define SMCCC_RET_NOT_SUPPORTED -1

/* SMCCC 1.1: x0-x7 in, x0-x3 out. */
struct arm_smccc_res {
	unsigned long a0, a1, a2, a3;
};

/* SMCCC 1.2: x0-x17 in and out. */
struct arm_smccc_1_2_regs {
	unsigned long a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17;
};

static inline void arm_smccc_1_2_smc(const struct arm_smccc_1_2_regs *args, struct arm_smccc_1_2_regs *res)
{
	unsigned long long r[18] = { args->a0,  args->a1,  args->a2,  args->a3,  args->a4,  args->a5,
				     args->a6,  args->a7,  args->a8,  args->a9,  args->a10, args->a11,
				     args->a12, args->a13, args->a14, args->a15, args->a16, args->a17 };
	ffasim_smc(r);
	*res = (struct arm_smccc_1_2_regs){ r[0],  r[1],  r[2],  r[3],  r[4],  r[5],  r[6],  r[7],  r[8],
					    r[9],  r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17] };
}

/* An SMCCC 1.1 call: x0-x7 as given (the rest 0), x0-x3 written to *res. */
static inline void ffasim_smccc_1_1(unsigned long long a0, unsigned long long a1, unsigned long long a2,
				    unsigned long long a3, unsigned long long a4, unsigned long long a5,
				    unsigned long long a6, unsigned long long a7, struct arm_smccc_res *res)
{
	unsigned long long r[18] = { a0, a1, a2, a3, a4, a5, a6, a7 };
	ffasim_smc(r);
	if (res) {
		res->a0 = r[0];
		res->a1 = r[1];
		res->a2 = r[2];
		res->a3 = r[3];
	}
}

/* arm_smccc_1_1_smc(fid, up to 7 arguments, res): the last argument is the result pointer. */
#define __ffasim_smc11_1(a0, res) ffasim_smccc_1_1(a0, 0, 0, 0, 0, 0, 0, 0, res)
#define __ffasim_smc11_2(a0, a1, res) ffasim_smccc_1_1(a0, a1, 0, 0, 0, 0, 0, 0, res)
#define __ffasim_smc11_3(a0, a1, a2, res) ffasim_smccc_1_1(a0, a1, a2, 0, 0, 0, 0, 0, res)
#define __ffasim_smc11_4(a0, a1, a2, a3, res) ffasim_smccc_1_1(a0, a1, a2, a3, 0, 0, 0, 0, res)
#define __ffasim_smc11_5(a0, a1, a2, a3, a4, res) ffasim_smccc_1_1(a0, a1, a2, a3, a4, 0, 0, 0, res)
#define __ffasim_smc11_6(a0, a1, a2, a3, a4, a5, res) ffasim_smccc_1_1(a0, a1, a2, a3, a4, a5, 0, 0, res)
#define __ffasim_smc11_7(a0, a1, a2, a3, a4, a5, a6, res) ffasim_smccc_1_1(a0, a1, a2, a3, a4, a5, a6, 0, res)
#define __ffasim_smc11_8(a0, a1, a2, a3, a4, a5, a6, a7, res) ffasim_smccc_1_1(a0, a1, a2, a3, a4, a5, a6, a7, res)
#define __ffasim_count(_1, _2, _3, _4, _5, _6, _7, _8, _9, n, ...) n
#define __ffasim_cat(a, b) a##b
#define __ffasim_sel(n) __ffasim_cat(__ffasim_smc11_, n)
#define arm_smccc_1_1_smc(...) __ffasim_sel(__ffasim_count(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0))(__VA_ARGS__)
#define arm_smccc_1_1_hvc(...) arm_smccc_1_1_smc(__VA_ARGS__)
#define arm_smccc_1_1_invoke(...) arm_smccc_1_1_smc(__VA_ARGS__)

#endif
