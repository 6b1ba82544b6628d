#!/usr/bin/env bash
# Run this experiment: run.sh [quick|medium|full] (experiments/README.md); all the work is in scripts/experiment.sh.
exec "$(dirname "$0")/../../scripts/experiment.sh" "$(dirname "$0")" "$@"
