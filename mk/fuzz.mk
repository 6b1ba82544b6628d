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
# fuzz_state alone reads a training checkpoint through src/simsiam/state.c,
# and links what that needs: the model (its counts, built and loaded), the
# closed-form predictor (GSL's eigensolver, on OpenBLAS), the data loaders
# (sm_state_restore_model) and the tracking columns (sm_track_header, in
# track.c).  Those are FUZZ_STATE_SRC.  The layers, the optimizer and the
# estimators (FUZZ_STATE_LINK_SRC) are there because model.c and track.c
# call them; a read runs little of them (the layers' init when a model is
# built), so they are compiled at -O0, which takes them from some 20 s of CPU
# to 5 (conv_direct.c and knn.c alone were 15).  OpenMP, since model.c,
# threads.c and the layers call it; GSL and OpenBLAS as the program links
# them (PKG_LIBS: never libgslcblas, docs/design.md §5.4).
FUZZ_STATE_SRC := src/core/arena.c src/core/rng.c src/core/threads.c src/data/loader.c src/data/synthetic.c \
                  src/dist/dist.c src/simsiam/model.c src/simsiam/predictor.c src/simsiam/state.c \
                  src/simsiam/track.c
FUZZ_STATE_LINK_SRC := $(wildcard src/nn/*.c) src/optim/sgd.c $(wildcard src/estimators/*.c)
FUZZ_STATE_OBJ := $(FUZZ_STATE_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_STATE_LINK_SRC:%.c=$(FUZZ_BUILD)/%.o)
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
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_LDFLAGS) -o $@ $^ $(FUZZ_LDLIBS) -lm

FUZZ_LDLIBS = $(shell pkg-config --libs zlib 2>/dev/null)
$(FUZZ_BUILD)/fuzz_state: $(FUZZ_STATE_OBJ)
$(FUZZ_BUILD)/fuzz_state: FUZZ_LDFLAGS = -fopenmp
$(FUZZ_BUILD)/fuzz_state: FUZZ_LDLIBS = $(PKG_LIBS)
$(FUZZ_STATE_OBJ): FUZZ_CFLAGS += -fopenmp -Wno-pass-failed
$(FUZZ_STATE_LINK_SRC:%.c=$(FUZZ_BUILD)/%.o): FUZZ_CFLAGS += -O0

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_STATE_OBJ:.o=.d) $(FUZZ_BIN:$(FUZZ_BUILD)/fuzz_%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.d)
