#!/bin/sh
# valgrind.sh -- memcheck over the main job as a user runs it: the tool
# trains a small network on the circle, saves it and a trainer checkpoint,
# resumes, samples from the network and from the exact model, evaluates,
# describes the model file; then the C host example.  Every run must end
# with no memcheck error and no byte definitely, indirectly or possibly
# lost (memory still reachable at exit is OpenBLAS's per-thread buffers:
# reported by valgrind, not counted as lost).
set -eu
command -v valgrind >/dev/null 2>&1 || { echo "valgrind.sh: FAIL: valgrind is not installed (apt-get install valgrind)"; exit 1; }
work=$(mktemp -d /tmp/cemdiff-valgrind-XXXXXX)
trap 'rm -rf "$work"' EXIT
VG="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite,indirect,possible --track-origins=yes -q"
export OPENBLAS_NUM_THREADS=1
runs=0
vg() {
    if ! $VG "$@" >"$work/out" 2>"$work/err"; then
        echo "valgrind.sh: FAIL: $*"; cat "$work/err"; exit 1
    fi
    runs=$((runs + 1))
}
c=bin/cemdiff
vg $c train --data circle --n 500 --width 16 --depth 2 --steps 20 --batch 64 \
    --checkpoint "$work/ck.cem" --quiet -o "$work/m.cem"
vg $c train --data circle --n 500 --steps 30 --resume "$work/ck.cem" --quiet -o "$work/m2.cem"
vg $c sample "$work/m2.cem" -n 300 --steps 30 --threads 2 --quiet -o "$work/s.csv"
vg $c sample --exact circle --n-data 200 -n 200 --steps 30 --quiet -o "$work/e.csv"
vg $c eval "$work/s.csv" --data circle --json
vg $c info "$work/m2.cem"
vg bin/hello
echo "valgrind.sh: $runs programs under memcheck: 0 errors, 0 bytes lost"
