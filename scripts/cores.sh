#!/usr/bin/env bash
# The number of cores this process may run on.  GNU nproc answers
# OMP_NUM_THREADS (and OMP_THREAD_LIMIT) when they are set — make valgrind
# sets 1 — which would size a pool of single-threaded runs, or a local Slurm
# node, by a thread setting instead of the machine.
exec env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc
