#!/bin/sh
# check_install.sh -- installs into a temporary prefix and builds a host
# program exactly as a user would: with pkg-config and nothing else.
set -eu
prefix=$(mktemp -d /tmp/cemdiff-prefix-XXXXXX)
work=$(mktemp -d /tmp/cemdiff-host-XXXXXX)
trap 'rm -rf "$prefix" "$work"' EXIT
make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
want=$(sed -n 's/^#define CEM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' include/cemdiff.h | paste -sd.)
got=$(pkg-config --modversion cemdiff)
[ "$got" = "$want" ] || { echo "check_install: FAIL: pkg-config version $got, header $want"; exit 1; }
soname=$(objdump -p "$prefix/lib/libcemdiff.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libcemdiff.so.${want%%.*}" ] || { echo "check_install: FAIL: soname $soname"; exit 1; }
# shared: the host finds the library through pkg-config and the loader path
${CC:-cc} -o "$work/host" examples/hello.c $(pkg-config --cflags --libs cemdiff)
out=$(LD_LIBRARY_PATH="$prefix/lib" "$work/host")
echo "$out" | grep -q "libcemdiff $want" || { echo "check_install: FAIL: host printed: $out"; exit 1; }
# static: the same program against libcemdiff.a and its private requirements
${CC:-cc} -o "$work/host_static" examples/hello.c $(pkg-config --cflags cemdiff) \
    -L"$prefix/lib" -Wl,-Bstatic -lcemdiff -Wl,-Bdynamic \
    $(pkg-config --static --libs cemdiff | sed 's/-lcemdiff//')
"$work/host_static" | grep -q "libcemdiff $want" || { echo "check_install: FAIL: static host"; exit 1; }
# C++ hosts include the same header
if command -v ${CXX:-c++} >/dev/null 2>&1; then
    ${CXX:-c++} -x c++ -o "$work/host_cxx" examples/hello.c $(pkg-config --cflags --libs cemdiff)
    LD_LIBRARY_PATH="$prefix/lib" "$work/host_cxx" | grep -q "libcemdiff $want" \
        || { echo "check_install: FAIL: C++ host"; exit 1; }
fi
# the command-line tool finds the installed library next to it
"$prefix/bin/cemdiff" --version | grep -q "$want" || { echo "check_install: FAIL: installed cemdiff"; exit 1; }
echo "check_install: install to a prefix, pkg-config build (shared, static, C++), cemdiff, and run: 1 passed, 0 failed"
