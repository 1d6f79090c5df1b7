#!/bin/sh
# check_mpi.sh -- the MPI layer end to end (docs/SCALING.md): training on
# 1, 2 and 3 ranks gives bitwise the same model with the ordered reduction
# and the same to round-off with MPI_Allreduce; a run saved by 2 ranks
# resumes on 1 and on 3 bitwise as if uninterrupted; a bad option and a
# failure on a rank end the job with a message.
#
#   sh tests/check_mpi.sh bin/cemdiff-mpi
#
# Prints "ok - ..." or "not ok - ..." per check and, last,
# "check_mpi: N passed, M failed"; exits non-zero when M > 0.
set -eu
case $1 in
/*) mpi=$1 ;;
*) mpi=$(pwd)/$1 ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_mpi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# loopback only; root in CI containers; more ranks than cores
mpirun="mpirun --oversubscribe --allow-run-as-root --mca btl self,vader --mca btl_vader_single_copy_mechanism none -np"
passed=0
failed=0
status=0
run() {
    set +e
    "$@" >out 2>err
    status=$?
    set -e
}
check() {
    if eval "$2"; then
        passed=$((passed + 1))
        echo "ok - $1"
    else
        failed=$((failed + 1))
        echo "not ok - $1 (exit status $status)"
        sed 's/^/#   /' err out
    fi
}
# diff_below A B BOUND: the largest weight difference of A and B is below BOUND
diff_below() {
    "$mpi" compare "$1" "$2" >cmp 2>&1 &&
        awk -v b="$3" '$1 == "max_abs_diff" { ok = $2 + 0 < b } END { exit !ok }' cmp
}

small="--data circle --n 2000 --batch 256 --accumulate 6 --width 64 --quiet"
for np in 1 2 3; do
    run $mpirun $np "$mpi" train $small --steps 20 -o ord$np.cem
    check "-np $np trains (ordered reduction)" '[ $status -eq 0 ] && [ -s ord$np.cem ]'
done
check "-np 2 equals one process bitwise (ordered)" 'cmp -s ord1.cem ord2.cem'
check "-np 3 equals one process bitwise (ordered)" 'cmp -s ord1.cem ord3.cem'
for np in 2 3; do
    run $mpirun $np "$mpi" train $small --steps 20 --reduce allreduce -o all$np.cem
    check "-np $np with MPI_Allreduce: within 1e-6 of one process after 20 steps" \
        '[ $status -eq 0 ] && diff_below ord1.cem all$np.cem 1e-6'
done
run $mpirun 2 "$mpi" train $small --steps 10 --checkpoint c2.ckpt -o half.cem
check "-np 2 saves a trainer checkpoint" '[ $status -eq 0 ] && [ -s c2.ckpt ]'
run $mpirun 1 "$mpi" train $small --steps 20 --resume c2.ckpt -o res1.cem
check "saved at -np 2, resumed at -np 1: bitwise the uninterrupted run" \
    '[ $status -eq 0 ] && cmp -s res1.cem ord1.cem'
run $mpirun 3 "$mpi" train $small --steps 20 --resume c2.ckpt -o res3.cem
check "saved at -np 2, resumed at -np 3: bitwise the uninterrupted run" \
    '[ $status -eq 0 ] && cmp -s res3.cem ord1.cem'
run $mpirun 2 "$mpi" train $small --steps 5 --timing -o x.cem
check "--timing reports the step's split" \
    '[ $status -eq 0 ] && grep -Eq "^ranks 2 steps 5 step_ms [0-9.]+ reduce_ms_min" out'
run $mpirun 2 "$mpi" train $small --steps 5 --batch 0 -o x.cem
check "an impossible batch ends the job with the library's message and the rank" \
    '[ $status -ne 0 ] && grep -q "rank [01] of 2: .*CEM_TRAINER_BATCH" err'
run $mpirun 2 "$mpi" train --data nowhere.csv --steps 5 -o x.cem
check "a missing data file ends the job on every rank with a message" \
    '[ $status -ne 0 ] && grep -q "nowhere.csv" err'
run $mpirun 2 "$mpi" train --data circle --steps 5 --reduce sideways -o x.cem
check "an unknown reduction is a usage error" '[ $status -ne 0 ] && grep -q "ordered or allreduce" err'

echo "check_mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
