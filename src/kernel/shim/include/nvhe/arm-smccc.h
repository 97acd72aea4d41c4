/* ffasim shim: the hyp's SMC wrappers (hyp trace events around the SMC become ffasim's hop events). */
#ifndef FFASIM_NVHE_ARM_SMCCC_H
#define FFASIM_NVHE_ARM_SMCCC_H
#include <linux/arm-smccc.h>
#define hyp_smccc_1_1_smc(...) arm_smccc_1_1_smc(__VA_ARGS__)
#define hyp_smccc_1_2_smc(...) arm_smccc_1_2_smc(__VA_ARGS__)
#endif
