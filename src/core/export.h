/* SM_API marks the public API: what libsimsiam-mi.so exports.
 *
 * The shared library is compiled with -fvisibility=hidden (mk/install.mk),
 * so every other function stays local to it and can change freely; the
 * headers installed under include/simsiam-mi/ (the same list in
 * mk/install.mk) declare their functions and data SM_API.  The internal
 * static library and the binaries ignore it: visibility only matters at a
 * shared library's boundary. */
#ifndef SM_CORE_EXPORT_H
#define SM_CORE_EXPORT_H

#define SM_API __attribute__((visibility("default")))

#endif
