#!/bin/sh
# scaling.sh -- the measurements of docs/SCALING.md: W1 (the circle, the
# default 3 x 256 CEM network, batch 1024) trained on 1, 2 and 3 MPI ranks
# with each reduction, the step split into compute and reduction
# (bin/cemdiff-mpi --timing), REPEATS runs each, the median printed.
#
#   sh tools/scaling.sh [STEPS [REPEATS]]      (make scaling)
set -eu
steps=${1:-200}
repeats=${2:-3}
mpi=$(pwd)/bin/cemdiff-mpi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/scaling.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; $steps steps of W1 per run, median of $repeats"
printf '%-10s %5s %10s %12s %12s %12s\n' reduce ranks step_ms compute_ms reduce_ms_min reduce_ms_max
for reduce in ordered allreduce; do
    for np in 1 2 3; do
        for r in $(seq "$repeats"); do
            mpirun --oversubscribe --allow-run-as-root --mca btl self,vader \
                --mca btl_vader_single_copy_mechanism none -np "$np" "$mpi" \
                train --data circle --steps "$steps" --batch 1024 --accumulate 6 \
                --reduce "$reduce" --timing --quiet -o "$tmp/m.cem"
        done | sort -t' ' -k6 -n | awk -v want=$(( (repeats + 1) / 2 )) -v red="$reduce" '
            NR == want { printf "%-10s %5s %10s %12s %12s %12s\n", red, $2, $6, $12, $8, $10 }'
    done
done
