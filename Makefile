# simsiam-mi — SimSiam training and mutual-information estimation in C.
# `make` builds build/simsiam-mi; see README.md for the other targets.

ifeq ($(origin CC),default)
CC = gcc
endif
BUILD ?= build
OPT ?= -O2
SAN ?=

# Recursive (=) on purpose: pkg-config runs when a recipe needs the flags,
# i.e. after scripts/deps.sh has installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags gsl openblas cmocka zlib 2>/dev/null)
# pkg-config's gsl adds -lgslcblas: drop it, or cblas_sgemm resolves to GSL's
# slow reference BLAS instead of OpenBLAS (docs/design.md §5).  Debian's shared
# libgsl itself depends on libgslcblas, so GSL is linked from its static
# archive: its CBLAS calls then bind to OpenBLAS at link time and libgslcblas
# is not loaded at all (ldd build/simsiam-mi shows it).
PKG_LIBS = $(patsubst -lgsl,-l:libgsl.a,$(filter-out -lgslcblas,$(shell pkg-config --libs gsl openblas zlib 2>/dev/null)))
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS = -std=c11 $(OPT) -g -Wall -Wextra -fopenmp -D_POSIX_C_SOURCE=200809L \
         -Isrc -MMD -MP $(PKG_CFLAGS) $(SAN)
LDFLAGS = -fopenmp $(SAN)
LDLIBS = $(PKG_LIBS) -lm

LIB_SRC := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
SUPPORT_SRC := $(wildcard tests/support/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BIN := $(BUILD)/simsiam-mi
# `make bench`'s yardstick: OpenBLAS sgemm GFLOP/s, same flags and BLAS as BIN.
SGEMM_PEAK := $(BUILD)/sgemm_peak
# `make bench`'s KSG-1 on S² × S² (the k-NN part of estimate bound --family vmf).
KSG_SPHERE_BENCH := $(BUILD)/ksg_sphere_bench

SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

.PHONY: all deps build build-tests test asan valgrind bench run experiment plots report readme-tables readme-columns clean
.SECONDARY:

all:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory build

deps:
	@scripts/deps.sh

build: $(BIN)

build-tests: $(BIN) $(TEST_BIN)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build-tests fuzz-build
	@tests/run.sh $(BUILD)

asan:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 SAN="$(SANITIZE)" build-tests
	@tests/run.sh build/asan

valgrind:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build-tests
	@tests/run.sh $(BUILD) valgrind

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory build $(SGEMM_PEAK) $(KSG_SPHERE_BENCH)
	@scripts/bench.sh $(BIN) $(SGEMM_PEAK) $(KSG_SPHERE_BENCH)

run:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory build
	@scripts/run.sh $(BIN)

# Experiments (experiments/README.md) and reports (analysis/README.md).
# SIZE=quick is the default: seconds per run; SIZE=full takes hours.
# RESULTS=DIR puts results in DIR/<size>/ instead of experiments/NAME/results/;
# JOBS=N runs at most N runs at once (default: the number of cores);
# KEYS="key=value ..." adds keys to every run (a replicate: KEYS=seed=1 RESULTS=DIR).
SIZE ?= quick
EXPERIMENT_NAMES = $(shell ls experiments/*/run.sh 2>/dev/null | cut -d/ -f2 | paste -sd "|")

experiment:
	@if [ -z "$(NAME)" ] || [ ! -x "experiments/$(NAME)/run.sh" ]; then \
	  echo "usage: make experiment NAME=<$(EXPERIMENT_NAMES)> [SIZE=quick|medium|full] [JOBS=N] [RESULTS=DIR] [KEYS=\"key=value ...\"]" >&2; exit 2; fi
	@scripts/deps.sh
	@$(MAKE) --no-print-directory build
	@exec env SM_BIN="$(BIN)" SM_RESULTS="$(RESULTS)" SM_KEYS="$(KEYS)" JOBS="$(JOBS)" experiments/$(NAME)/run.sh $(SIZE)

plots:
	@if [ -z "$(RUN)" ]; then echo "usage: make plots RUN=DIR   (a run directory with train.csv)" >&2; exit 2; fi
	@scripts/deps.sh
	@analysis/run-report.sh "$(RUN)"

report:
	@if [ -z "$(EXP)" ] || [ ! -f "experiments/$(EXP)/runs" ]; then \
	  echo "usage: make report EXP=<$(EXPERIMENT_NAMES)> [SIZE=quick|medium|full] [RESULTS=DIR]" >&2; exit 2; fi
	@scripts/deps.sh
	@SM_RESULTS="$(RESULTS)" analysis/experiment-report.sh experiments/$(EXP) $(SIZE)

# The documents' generated tables, remade from the code's own tables: README's
# tracked columns (`simsiam-mi track --columns`; tests/test_cli_track.c fails
# while README differs) and estimators (`simsiam-mi estimate --list`;
# tests/test_cli_estimate.c), docs/design.md's keys (`simsiam-mi train --help`;
# tests/test_io_config.c).  readme-columns is kept as a name for the same.
readme-tables readme-columns: $(BIN)
	@scripts/readme-table.sh columns $(BIN) --write
	@scripts/readme-table.sh estimators $(BIN) --write
	@scripts/readme-table.sh keys $(BIN) --write

clean:
	rm -rf build

$(BUILD)/libsimsiam.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(BUILD)/libsimsiam.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(SGEMM_PEAK): $(BUILD)/scripts/sgemm_peak.o $(BUILD)/libsimsiam.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(KSG_SPHERE_BENCH): $(BUILD)/scripts/ksg_sphere_bench.o $(BUILD)/libsimsiam.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(SUPPORT_OBJ) $(BUILD)/libsimsiam.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -c -o $@ $<

include mk/mpi.mk

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SUPPORT_OBJ:.o=.d) $(TEST_BIN:=.d) $(BUILD)/scripts/sgemm_peak.d \
         $(BUILD)/scripts/ksg_sphere_bench.d

# `make fuzz` and the harnesses `make test` runs (mk/fuzz.mk).
include mk/fuzz.mk
# make install, uninstall and the shared library (mk/install.mk).
include mk/install.mk
