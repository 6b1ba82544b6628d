# Data-parallel training over MPI (README "Clusters: MPI and Slurm", docs/design.md §6).
# build/simsiam-mi-mpi is build/simsiam-mi with src/dist/mpi/dist_mpi.c linked
# ahead of the library: its sm_dist_* definitions win over the single-process
# ones in libsimsiam.a (src/dist/dist.c), so only this binary needs MPI.
MPICC ?= mpicc
MPI_BIN := $(BUILD)/simsiam-mi-mpi
MPI_OBJ := $(BUILD)/src/dist/mpi/dist_mpi.o

build: $(MPI_BIN)
build-tests: $(MPI_BIN)

$(MPI_BIN): $(MPI_OBJ) $(CLI_OBJ) $(BUILD)/libsimsiam.a
	$(MPICC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(MPI_OBJ): src/dist/mpi/dist_mpi.c
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -c -o $@ $<

-include $(MPI_OBJ:.o=.d)

# Experiments on Slurm (scripts/slurm-experiment.sh): make experiment NAME=... SCHEDULER=slurm
# [NODES=N TASKS_PER_NODE=T] [SBATCH_ARGS="--partition=..."]; SCHEDULER=local is the default.
SCHEDULER ?= local
experiment: export SM_SCHEDULER = $(SCHEDULER)
experiment: export SM_NODES = $(NODES)
experiment: export SM_TASKS_PER_NODE = $(TASKS_PER_NODE)
experiment: export SM_SBATCH_ARGS = $(SBATCH_ARGS)
