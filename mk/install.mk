# The installable library (docs/design.md §5.7): libsimsiam-mi.so and .a from
# position-independent objects in $(BUILD)/pic (the CLI keeps its own objects
# and flags), the public headers, simsiam-mi.pc, the binary and its man page.
#   make install [PREFIX=/usr/local] [DESTDIR=staging]     make uninstall (same PREFIX, DESTDIR)

PREFIX ?= /usr/local
LIBDIR = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
# The one version number is the CLI's (src/cli/cli.h); the soname carries its major.
VERSION := $(shell sed -n 's/^\#define SM_VERSION "\(.*\)"/\1/p' src/cli/cli.h)
SONAME = libsimsiam-mi.so.$(firstword $(subst ., ,$(VERSION)))

PIC_OBJ := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
# src/libsimsiam-mi.c is the shared library's alone (outside src/*/, so not in LIB_SRC).
SHLIB_INIT := $(BUILD)/pic/src/libsimsiam-mi.o
SHLIB := $(BUILD)/libsimsiam-mi.so
STLIB := $(BUILD)/libsimsiam-mi.a
# What SM_API marks (src/core/export.h): these headers' declarations are
# exported, everything else is hidden.  src/simsiam-mi.h includes them all.
PUBLIC_HEADERS := src/core/export.h src/core/status.h src/core/arena.h src/core/rng.h src/core/threads.h \
                  $(wildcard src/estimators/*.h) src/simsiam/track.h
# The shared directories install may create, deepest first.  Those it did create are listed in
# MANIFEST_DIRS, which uninstall reads to remove them when they are empty again: a prefix starts
# and ends empty, and a directory that was there before (/usr/local/bin) stays.
SHARED_DIRS = $(INCLUDEDIR) $(LIBDIR)/pkgconfig $(LIBDIR) $(PREFIX)/bin $(PREFIX)/share/man/man1 \
              $(PREFIX)/share/man $(PREFIX)/share
MANIFEST_DIRS = $(DESTDIR)$(INCLUDEDIR)/simsiam-mi/installed-dirs

.PHONY: install install-files uninstall shared check-prefix

shared: $(SHLIB) $(STLIB)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

# --exclude-libs: GSL's objects come from its static archive; its symbols
# stay inside the library instead of clashing with a caller's own GSL.
$(SHLIB).$(VERSION): $(PIC_OBJ) $(SHLIB_INIT)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--no-undefined -Wl,--exclude-libs,ALL -o $@ $^ $(LDLIBS)

$(SHLIB): $(SHLIB).$(VERSION)
	ln -sf $(notdir $<) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(STLIB): $(PIC_OBJ)
	@rm -f $@
	ar rcs $@ $^

# make splits its lists (SHARED_DIRS, the headers) on blanks: a PREFIX or
# DESTDIR with one is refused before anything is created.
check-prefix:
	@case "$(PREFIX)$(DESTDIR)" in *[[:space:]]*) \
	  echo "install: error: PREFIX and DESTDIR cannot contain blanks ($(DESTDIR)$(PREFIX))" >&2; exit 2;; esac

install: check-prefix
	@scripts/deps.sh
	@$(MAKE) --no-print-directory install-files

install-files: $(BIN) $(SHLIB) $(STLIB)
	@created=$$(cat $(MANIFEST_DIRS) 2>/dev/null; for d in $(SHARED_DIRS); do [ -d "$(DESTDIR)$$d" ] || echo "$$d"; done); \
	  install -d $(DESTDIR)$(INCLUDEDIR)/simsiam-mi && printf '%s\n' $$created > $(MANIFEST_DIRS)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(SHLIB).$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libsimsiam-mi.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libsimsiam-mi.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	for h in $(PUBLIC_HEADERS); do install -D -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/simsiam-mi/$${h#src/} || exit 1; done
	install -m 644 src/simsiam-mi.h $(DESTDIR)$(INCLUDEDIR)/simsiam-mi/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' mk/simsiam-mi.pc.in \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/simsiam-mi.pc
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/simsiam-mi.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall: check-prefix
	rm -f $(DESTDIR)$(LIBDIR)/libsimsiam-mi.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libsimsiam-mi.so $(DESTDIR)$(LIBDIR)/libsimsiam-mi.a \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/simsiam-mi.pc $(DESTDIR)$(PREFIX)/bin/simsiam-mi \
	      $(DESTDIR)$(PREFIX)/share/man/man1/simsiam-mi.1 $(DESTDIR)$(INCLUDEDIR)/simsiam-mi/simsiam-mi.h \
	      $(PUBLIC_HEADERS:src/%=$(DESTDIR)$(INCLUDEDIR)/simsiam-mi/%)
	@dirs=$$(cat $(MANIFEST_DIRS) 2>/dev/null); rm -f $(MANIFEST_DIRS); \
	  for d in core estimators simsiam ""; do rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(INCLUDEDIR)/simsiam-mi/$$d" 2>/dev/null; done; \
	  for d in $(SHARED_DIRS); do \
	    if printf '%s\n' $$dirs | grep -qxF "$$d" && [ -d "$(DESTDIR)$$d" ]; then rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; fi; \
	  done; true

-include $(PIC_OBJ:.o=.d) $(SHLIB_INIT:.o=.d)

# tests/run.sh runs the Python module's tests against $(SHLIB), and
# tests/test_install_pkgconfig.c installs it.  Sanitized builds skip both: a
# sanitized .so needs its runtime preloaded into python and the outside program.
ifeq ($(SAN),)
build-tests: $(SHLIB) $(STLIB)
endif
