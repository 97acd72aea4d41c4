/* ffasim shim: uuid_t as the kernel lays it out (16 bytes). */
#ifndef FFASIM_LINUX_UUID_H
#define FFASIM_LINUX_UUID_H
#include <ffasim/prelude.h>
typedef struct {
	u8 b[16];
} uuid_t;
#endif
