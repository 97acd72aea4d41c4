/* ffasim shim: the types live in the forced-include prelude (ffasim/prelude.h). */
#include <ffasim/prelude.h>
