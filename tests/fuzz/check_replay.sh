#!/bin/sh
# check_replay.sh SELFTEST -- tests the fuzz replay driver (tests/fuzz/replay.c)
# as linked with tests/fuzz/selftest.c, a target that aborts on an input
# beginning with "abort": a replay must never pass on nothing (no argument, a
# missing path, a directory without inputs), must count every input, and
# must fail when the target aborts.
set -u
bin=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cemdiff-replay-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_replay: $*" >&2; exit 1; }
quiet() { "$@" >/dev/null 2>&1; }

quiet "$bin" && fail "no argument passed"
quiet "$bin" "$tmp/missing" && fail "a missing directory passed"
mkdir "$tmp/empty"
quiet "$bin" "$tmp/empty" && fail "an empty directory passed"
: > "$tmp/empty/.hidden"
quiet "$bin" "$tmp/empty" && fail "a directory of hidden files only passed"

mkdir "$tmp/ok"
printf 'fine' > "$tmp/ok/a"
: > "$tmp/ok/b"
printf 'not abort' > "$tmp/ok/c"
out=$("$bin" "$tmp/ok" "$tmp/ok/a" 2>&1) || fail "good inputs failed: $out"
echo "$out" | grep -q "^replay: $tmp/ok: 3 inputs$" || fail "did not count 3 inputs: $out"
echo "$out" | grep -q "^replay: 4 inputs, all passed$" || fail "did not count 4 in all: $out"
quiet "$bin" "$tmp/ok" "$tmp/empty" && fail "an empty directory after a good one passed"

printf 'abort here' > "$tmp/ok/d"
out=$("$bin" "$tmp/ok" 2>&1) && fail "an aborting input passed"
echo "$out" | grep -q "failed on input $tmp/ok/d" || fail "the aborting input was not named: $out"
echo "check_replay: the replay driver counts its inputs, refuses to run on nothing and fails on an abort"
