#!/usr/bin/env bash
# Install what is missing, and only that (idempotent; a second run installs nothing).
#   scripts/deps.sh            runtime + build needs (make, make test, make run)
#   scripts/deps.sh test       ... plus python3-numpy, python3-torch (dev-only: .npy round-trip and
#                              PyTorch parity tests), clang, libclang-rt-dev, libomp-dev (libFuzzer harnesses),
#                              python3-pytest, -venv, -setuptools, -wheel (python/tests), slurm-wlm
#                              and munge (the Slurm test)
#   scripts/deps.sh bench      ... plus python3-scipy, python3-torch (dev-only: references) and time
#                              (peak RSS)
set -euo pipefail

FASHION_DIR=/usr/share/datasets/fashion-mnist
missing=()

have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1"; }
have_py() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }

command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkgconf)
have_pc gsl || missing+=(libgsl-dev)
have_pc openblas || missing+=(libopenblas-dev)
have_pc cmocka || missing+=(libcmocka-dev)
have_pc zlib || missing+=(zlib1g-dev)
command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
[ -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ] || missing+=(dataset-fashion-mnist)
have_pc ompi-c || missing+=(libopenmpi-dev)       # build/simsiam-mi-mpi (mk/mpi.mk)
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)

case "${1:-}" in
  test)  have_py numpy || missing+=(python3-numpy)
         have_py torch || missing+=(python3-torch)
         command -v clang >/dev/null 2>&1 || missing+=(clang)  # the fuzz harnesses (mk/fuzz.mk), and their libFuzzer:
         [ -f "$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null)" ] || missing+=(libclang-rt-dev)
         [ -f "$(clang -print-resource-dir 2>/dev/null)/include/omp.h" ] || missing+=(libomp-dev) # fuzz_state's OpenMP
         have_py pytest || missing+=(python3-pytest); have_py ensurepip || missing+=(python3-venv) # python/tests;
         have_py setuptools || missing+=(python3-setuptools); have_py wheel || missing+=(python3-wheel) # pip's build
         # the throwaway Slurm of tests/test_experiments_slurm.c
         for d in slurmctld slurmd sbatch; do command -v $d >/dev/null 2>&1 || { missing+=(slurm-wlm); break; }; done
         command -v munged >/dev/null 2>&1 || missing+=(munge) ;;
  bench) [ -x /usr/bin/time ] || missing+=(time)
         have_py numpy || missing+=(python3-numpy)
         have_py scipy || missing+=(python3-scipy)
         have_py torch || missing+=(python3-torch) ;;
  "") ;;
  *) echo "usage: $0 [test|bench]" >&2; exit 2 ;;
esac

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${missing[*]}; as root run: $cmd" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
