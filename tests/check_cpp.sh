#!/bin/sh
# check_cpp.sh -- the C++ header as a user meets it: installs into a
# temporary prefix (as check_install.sh does), builds examples/cpp/circle.cpp
# and tests/cpp/test_hpp.cpp (with -pthread: its ranks are std::threads)
# against the installed copy through pkg-config with every C++ compiler
# present (g++, clang++), strict warnings, and the
# test under AddressSanitizer and UBSan when they work here; runs both;
# then checks that uninstall removes the header.
set -eu
prefix=$(mktemp -d /tmp/cemdiff-prefix-XXXXXX)
work=$(mktemp -d /tmp/cemdiff-cpp-XXXXXX)
trap 'rm -rf "$prefix" "$work"' EXIT
make -s install PREFIX="$prefix" >/dev/null
[ -f "$prefix/include/cemdiff.hpp" ] || { echo "check_cpp: FAIL: make install did not install cemdiff.hpp"; exit 1; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
PC=$(pkg-config --cflags --libs cemdiff)
STRICT="-std=c++17 -Wall -Wextra -Werror -pedantic"
passed=0

compilers=""
for cxx in ${CXX:-} g++ clang++; do
    command -v "$cxx" >/dev/null 2>&1 || continue
    case " $compilers " in *" $cxx "*) ;; *) compilers="$compilers $cxx";; esac
done
[ -n "$compilers" ] || { echo "check_cpp: FAIL: no C++ compiler"; exit 1; }

# Sanitizers: used when a trivial program builds and runs with them.
printf 'int main() { return 0; }\n' > "$work/probe.cpp"

for cxx in $compilers; do
    tag=$(basename "$cxx")
    # the example: builds cleanly, runs a few steps, prints finite numbers
    $cxx $STRICT -O1 -o "$work/circle-$tag" examples/cpp/circle.cpp $PC
    out=$(LD_LIBRARY_PATH="$prefix/lib" "$work/circle-$tag" 20 200)
    echo "$out" | awk '
        /^trained 20 steps/ { t = 1 }
        /^distance to the circle: mean/ { d = 1 }
        /^(KS of the angles|sliced W2 to the data|energy distance):/ { m++ }
        { for (i = 1; i <= NF; i++) if (tolower($i) ~ /nan|inf/) bad = 1 }
        END { exit !(t && d && m == 3 && !bad) }' \
        || { echo "check_cpp: FAIL: circle ($tag) printed:"; echo "$out"; exit 1; }
    passed=$((passed + 1))

    san=""
    if $cxx -fsanitize=address,undefined -o "$work/probe-$tag" "$work/probe.cpp" 2>/dev/null \
            && "$work/probe-$tag" 2>/dev/null; then
        san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    else
        echo "check_cpp: note: $tag cannot build or run -fsanitize=address,undefined here; testing without"
    fi
    $cxx $STRICT -g -O1 $san -pthread -o "$work/test_hpp-$tag" tests/cpp/test_hpp.cpp $PC
    if ! LD_LIBRARY_PATH="$prefix/lib" "$work/test_hpp-$tag"; then
        echo "check_cpp: FAIL: tests/cpp/test_hpp.cpp ($tag${san:+, sanitizers})"; exit 1
    fi
    passed=$((passed + 1))
done

# the header covers the C API: every function not marked superseded is
# called somewhere in cemdiff.hpp (the header's parser names them)
missing=$(${PYTHON:-/usr/bin/python3} tools/cemdiff_api.py include/cemdiff.h --json | \
    ${PYTHON:-/usr/bin/python3} -c '
import json, re, sys
api = json.load(sys.stdin)
hpp = open("include/cemdiff.hpp").read()
for f in api["functions"]:
    if "uperseded by" not in f["doc"] and not re.search(r"\b%s\(" % f["name"], hpp):
        print(f["name"])')
[ -z "$missing" ] || { echo "check_cpp: FAIL: cemdiff.hpp does not wrap:" $missing; exit 1; }
passed=$((passed + 1))

make -s uninstall PREFIX="$prefix" >/dev/null
[ ! -e "$prefix/include/cemdiff.hpp" ] || { echo "check_cpp: FAIL: uninstall left cemdiff.hpp"; exit 1; }
passed=$((passed + 1))
echo "check_cpp: installed cemdiff.hpp, example and header test with$compilers: $passed passed, 0 failed"
