/* ffasim shim: just enough of the driver model for linux/arm_ffa.h's declarations to compile. */
#ifndef FFASIM_LINUX_DEVICE_H
#define FFASIM_LINUX_DEVICE_H
#include <ffasim/prelude.h>
struct module;
struct device_driver {
	const char *name;
};
struct device {
	void *driver_data;
};
struct bus_type {
	const char *name;
};
static inline void dev_set_drvdata(struct device *dev, void *data) { dev->driver_data = data; }
static inline void *dev_get_drvdata(const struct device *dev) { return dev->driver_data; }
#define THIS_MODULE ((struct module *)0)
#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME "ffasim"
#endif
#define module_driver(drv, reg, unreg, ...)
#endif
