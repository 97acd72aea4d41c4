/*
 * ffasim shim: hyp spinlocks. The world runs one SMC at a time, so a lock never spins; ffasim checks the
 * discipline instead: taking a held lock (a self-deadlock at EL2) or releasing a free one is a BUG event.
 */
#ifndef FFASIM_NVHE_SPINLOCK_H
#define FFASIM_NVHE_SPINLOCK_H
#include <ffasim/prelude.h>
typedef struct {
	u32 __val;
} hyp_spinlock_t;
#define __HYP_SPIN_LOCK_INITIALIZER { .__val = 0 }
#define __HYP_SPIN_LOCK_UNLOCKED ((hyp_spinlock_t)__HYP_SPIN_LOCK_INITIALIZER)
#define DEFINE_HYP_SPINLOCK(x) hyp_spinlock_t x = __HYP_SPIN_LOCK_UNLOCKED
#define hyp_spin_lock_init(l) (*(l) = __HYP_SPIN_LOCK_UNLOCKED)
#define hyp_spin_lock(l) ffasim_lock((l), __func__)
#define hyp_spin_unlock(l) ffasim_unlock((l), __func__)
#define hyp_spin_is_locked(l) ((l)->__val != 0)
#define hyp_assert_lock_held(l) BUG_ON(!hyp_spin_is_locked(l))
#endif
