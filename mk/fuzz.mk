# libFuzzer harnesses of every parser (tests/fuzz/, README "Reliability"),
# built with Debian's clang: `make fuzz` runs each for FUZZ_S seconds from its
# committed seed corpus (inputs that reach new code are kept in
# build/fuzz/corpus/<parser>/, so later runs go on from there), `make test`
# runs each briefly (tests/run.sh).
#   make fuzz [FUZZ_S=60] [FUZZ=npy,csv,...]

FUZZ_S ?= 60
FUZZ_CC = clang
FUZZ_BUILD = $(BUILD)/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -O1 -g -Wall -Wextra -D_POSIX_C_SOURCE=200809L -Isrc -Itests -MMD -MP \
              $(PKG_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ ?= $(FUZZ_ALL)
# The library code the parsers reach, and no more: the harnesses' build is
# part of `make test`, so it compiles only these.
FUZZ_LIB_SRC := src/core/status.c src/core/mem.c $(wildcard src/io/*.c) src/data/cifar.c src/data/dataset.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/tests/fuzz/harness.o
FUZZ_BIN := $(FUZZ_ALL:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BIN)

fuzz:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory fuzz-build
	@bad=0; for h in $(subst $(comma), ,$(FUZZ)); do \
	  tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz_$$h $(FUZZ_BUILD)/corpus/$$h -max_total_time=$(FUZZ_S) || bad=1; done; \
	exit $$bad

comma := ,

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(shell pkg-config --libs zlib 2>/dev/null) -lm

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:$(FUZZ_BUILD)/fuzz_%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.d)
