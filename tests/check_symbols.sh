#!/bin/sh
# check_symbols.sh LIB HEADER -- the shared library exports exactly the
# CEM_API functions of the public header: nothing outside cem_*, and every
# declared function present.
set -eu
lib=$1 header=$2
major=$(sed -n 's/^#define CEM_VERSION_MAJOR \([0-9]*\).*/\1/p' "$header")
node="cem_abi_$major"
# every function in the version node of the major version (src/exports.map)
unversioned=$(nm -D --defined-only "$lib" | awk -v n="@@$node" '$2 ~ /^[TWDBRV]$/ && index($3, n) == 0 {print $3}')
if [ -n "$unversioned" ]; then
    echo "check_symbols: FAIL: $lib exports symbols outside the version node $node:" $unversioned
    exit 1
fi
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBRV]$/ {sub(/@.*/, "", $3); print $3}' | sort)
# every defined dynamic symbol, the version node's own (type A) included
every=$(nm -D --defined-only "$lib" | awk '{sub(/@.*/, "", $3); print $3}' | sort -u)
stray=$(printf '%s\n' "$every" | grep -v -E '^(cem_[a-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$stray" ]; then
    echo "check_symbols: FAIL: $lib exports symbols outside cem_*:" $stray
    exit 1
fi
declared=$(tr '\n' ' ' < "$header" | grep -o 'CEM_API [^;()]*cem_[a-z0-9_]*(' | sed 's/.*[ *]\(cem_[a-z0-9_]*\)(/\1/' | sort -u)
missing=$(printf '%s\n' "$declared" | while read -r f; do
    printf '%s\n' "$exported" | grep -qx "$f" || echo "$f"; done)
if [ -n "$missing" ]; then
    echo "check_symbols: FAIL: declared in $header but not exported:" $missing
    exit 1
fi
n=$(printf '%s\n' "$declared" | wc -l)
echo "check_symbols: $n public functions exported in $node, no other symbol: 1 passed, 0 failed"
