#!/bin/sh
# check_abi.sh LIB HEADER_DIR BASELINE -- the shared library keeps the ABI
# recorded in BASELINE (abi/libcemdiff.so.MAJOR.abi, abidw's description of
# the library as released): abidiff may find additions (new functions,
# new enum values), never an incompatible change to a published function
# or type.  An incompatible change needs a new major version (a new
# soname) and with it a new baseline: make abi-baseline.
set -eu
lib=$1 headers=$2 baseline=$3
if [ ! -f "$baseline" ]; then
    echo "check_abi: FAIL: no baseline $baseline for this major version (make abi-baseline)"
    exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
abidiff --headers-dir1 "$headers" --headers-dir2 "$headers" "$baseline" "$lib" >"$out" 2>&1 || status=$?
# abidiff's exit status is a bit field: 1 error, 2 usage, 4 ABI change,
# 8 incompatible ABI change
if [ $((status & 3)) -ne 0 ]; then
    cat "$out"
    echo "check_abi: FAIL: abidiff could not compare (status $status)"
    exit 1
fi
# abidiff calls a changed parameter list an ABI change, not an incompatible
# one; for a C API every change to a published function or variable is one
# (its harmless-change filter already passes added enumerators)
changed=$(sed -n 's/^\(Functions\|Variables\) changes summary: \([0-9]*\) Removed[^,]*, \([0-9]*\) Changed.*/\2 \3/p' "$out" |
          awk '{s += $1 + $2} END {print s + 0}')
if [ $((status & 8)) -ne 0 ] || [ "$changed" -gt 0 ]; then
    cat "$out"
    echo "check_abi: FAIL: $lib breaks the ABI of $baseline"
    exit 1
fi
if [ $((status & 4)) -ne 0 ]; then
    sed -n '1,/^$/p' "$out"
    echo "check_abi: compatible additions since $baseline: 1 passed, 0 failed"
else
    echo "check_abi: the ABI of $baseline exactly: 1 passed, 0 failed"
fi
