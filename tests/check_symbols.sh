#!/bin/sh
# check_symbols.sh LIB HEADER -- the shared library exports exactly the
# CEM_API functions of the public header: nothing outside cem_*, and every
# declared function present.
set -eu
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sort)
stray=$(printf '%s\n' "$exported" | grep -v -E '^(cem_[a-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' || true)
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
echo "check_symbols: $n public functions exported, no other symbol: 1 passed, 0 failed"
