/* What only the shared library libsimsiam-mi.so does (mk/install.mk links
 * this file into it alone): when it is loaded, switch off GSL's aborting
 * error handler.  The library reports GSL failures as status codes
 * (docs/design.md §5.2), which needs the handler off, as the CLI's main()
 * does.  GSL is linked into the .so from its static archive with its symbols
 * hidden, so this is the library's private copy: a caller's own GSL keeps
 * its handler.  (A program linking libsimsiam-mi.a shares its GSL and calls
 * gsl_set_error_handler_off() itself.) */
#include <gsl/gsl_errno.h>

__attribute__((constructor)) static void quiet_gsl(void) { gsl_set_error_handler_off(); }
