#!/bin/sh
# check_install.sh -- installs as a distribution or a user would and uses
# every installed piece the way its host does: C through pkg-config (shared,
# static, C++), the tool and its manual page, the Python package (installed
# by make install, and as a wheel built by pip), with the directories of
# GNU's conventions moved away from their defaults.
set -eu
PYTHON=${PYTHON:-/usr/bin/python3}
prefix=$(mktemp -d /tmp/cemdiff-prefix-XXXXXX)
stage=$(mktemp -d /tmp/cemdiff-stage-XXXXXX)
work=$(mktemp -d /tmp/cemdiff-host-XXXXXX)
trap 'rm -rf "$prefix" "$stage" "$work"' EXIT
pass=0
fail() { echo "check_install: FAIL: $*"; exit 1; }
ok() { pass=$((pass + 1)); }

want=$(sed -n 's/^#define CEM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' include/cemdiff.h | paste -sd.)
major=${want%%.*}

# 1. make install never runs the package manager: with every dependency
# reported missing (PKG_CONFIG=false) it stops and names them, and an
# apt-get first on PATH is never called
mkdir "$work/fakebin"
printf '#!/bin/sh\ntouch "%s/apt-get-called"\nexit 1\n' "$work" > "$work/fakebin/apt-get"
chmod +x "$work/fakebin/apt-get"
if PATH="$work/fakebin:$PATH" make -s install PKG_CONFIG=false PREFIX="$prefix" >"$work/out" 2>&1; then
    fail "make install with missing dependencies succeeded"
fi
grep -q "missing build dependencies" "$work/out" || fail "make install: $(cat "$work/out")"
[ ! -e "$work/apt-get-called" ] || fail "make install called apt-get"
[ -z "$(ls -A "$prefix")" ] || fail "make install with missing dependencies installed files"
ok

# 2. the build passes CPPFLAGS and LDFLAGS to every compile and link
cmds=$(make -s -n -B lib/.obj/status.o lib/libcemdiff.so bin/hello \
    CPPFLAGS=-DCEM_CHECK_CPPFLAGS LDFLAGS=-Wl,-O1,--check-ldflags 2>/dev/null \
    | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')  # a command continued over lines is one line
has() { # has PATTERN FLAG: the command that matches PATTERN carries FLAG
    line=$(echo "$cmds" | grep -e "$1" | head -1)
    case $line in *"$2"*) ;; *) fail "$2 not in the command for $1: $line" ;; esac
}
has "-c src/status.c" -DCEM_CHECK_CPPFLAGS
has "-shared" --check-ldflags
has "examples/hello.c" -DCEM_CHECK_CPPFLAGS
has "examples/hello.c" --check-ldflags
ok

# 3. install with every directory moved (and DESTDIR staging recorded nowhere)
dirs="PREFIX=$prefix BINDIR=$prefix/tools LIBDIR=$prefix/lib64 INCLUDEDIR=$prefix/inc \
MANDIR=$prefix/man PYTHONDIR=$prefix/py"
# shellcheck disable=SC2086
make -s install $dirs >/dev/null
for f in tools/cemdiff lib64/libcemdiff.so.$want lib64/libcemdiff.so.$major lib64/libcemdiff.so \
    lib64/libcemdiff.a lib64/pkgconfig/cemdiff.pc inc/cemdiff.h inc/cemdiff.hpp \
    man/man1/cemdiff.1 py/cemdiff/__init__.py py/cemdiff/_api.py py/cemdiff/_libpath.txt; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
# shellcheck disable=SC2086
make -s install $dirs DESTDIR="$stage" >/dev/null
[ -e "$stage$prefix/lib64/libcemdiff.so.$want" ] || fail "DESTDIR: nothing under $stage$prefix"
! grep -rq "$stage" "$stage$prefix/lib64/pkgconfig" "$stage$prefix/py/cemdiff/_libpath.txt" \
    || fail "DESTDIR recorded in an installed file"
ok

# 4. pkg-config: the version, only the header's include path, and the soname
export PKG_CONFIG_PATH="$prefix/lib64/pkgconfig"
got=$(pkg-config --modversion cemdiff)
[ "$got" = "$want" ] || fail "pkg-config version $got, header $want"
cflags=$(pkg-config --cflags cemdiff | sed 's/ *$//')
[ "$cflags" = "-I$prefix/inc" ] || fail "pkg-config --cflags gives '$cflags', not only -I$prefix/inc"
soname=$(objdump -p "$prefix/lib64/libcemdiff.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libcemdiff.so.$major" ] || fail "soname $soname"
ok

# 5. a C host through pkg-config: shared (the loader path), static
# (pkg-config --static), and the same program as C++
${CC:-cc} -o "$work/host" examples/hello.c $(pkg-config --cflags --libs cemdiff)
out=$(LD_LIBRARY_PATH="$prefix/lib64" "$work/host")
echo "$out" | grep -q "libcemdiff $want" || fail "host printed: $out"
${CC:-cc} -o "$work/host_static" examples/hello.c $(pkg-config --cflags cemdiff) \
    -L"$prefix/lib64" -Wl,-Bstatic -lcemdiff -Wl,-Bdynamic \
    $(pkg-config --static --libs cemdiff | sed 's/-lcemdiff//')
! objdump -p "$work/host_static" | grep -q 'NEEDED.*libcemdiff' || fail "static host needs libcemdiff.so"
"$work/host_static" | grep -q "libcemdiff $want" || fail "static host"
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    ${CXX:-c++} -x c++ -o "$work/host_cxx" examples/hello.c $(pkg-config --cflags --libs cemdiff)
    LD_LIBRARY_PATH="$prefix/lib64" "$work/host_cxx" | grep -q "libcemdiff $want" || fail "C++ host"
fi
ok

# 6. the tool finds the library from its own directory (a relative run
# path), also after the whole prefix moves
env -u LD_LIBRARY_PATH "$prefix/tools/cemdiff" --version | grep -q "$want" || fail "installed cemdiff"
mv "$prefix" "$prefix.moved"
env -u LD_LIBRARY_PATH "$prefix.moved/tools/cemdiff" --version | grep -q "$want" \
    || { mv "$prefix.moved" "$prefix"; fail "cemdiff after moving the prefix"; }
mv "$prefix.moved" "$prefix"
ok

# 7. the manual page renders, with every command of the tool
command -v man >/dev/null 2>&1 || fail "man is not installed (make test-deps installs man-db)"
page=$(MANWIDTH=80 MANPATH="$prefix/man" man cemdiff 2>&1) || fail "man cemdiff: $page"
for c in train sample eval profile info; do
    echo "$page" | grep -q "^   $c" || fail "man cemdiff: no section for $c"
done
ok

# 8. the Python package installed by make install finds the library it was
# installed with, from any directory, with nothing set
cd "$work"
lp=$(env -u CEMDIFF_LIBRARY -u LD_LIBRARY_PATH PYTHONPATH="$prefix/py" "$PYTHON" -c \
    'import cemdiff; print(cemdiff.library_path, cemdiff.__version__)')
[ "$lp" = "$prefix/lib64/libcemdiff.so.$major $want" ] || fail "installed package loaded: $lp"
cd - >/dev/null
ok

# 9. pip builds a pure-Python wheel of the package (offline: the installed
# setuptools), which loads the installed library through the loader's path
cp -r python "$work/src"
rm -rf "$work/src/cemdiff/__pycache__" "$work/src/cemdiff/_libpath.txt"
(cd "$work/src" && "$PYTHON" -m pip wheel -q --no-build-isolation --no-deps . -w "$work/wheel") \
    >"$work/pip.log" 2>&1 || fail "pip wheel: $(tail -5 "$work/pip.log")"
whl="$work/wheel/cemdiff-$want-py3-none-any.whl"
[ -f "$whl" ] || fail "no $(basename "$whl"): $(ls "$work/wheel")"
"$PYTHON" -m pip install -q --no-deps --no-index --target "$work/site" "$whl" >"$work/pip.log" 2>&1 \
    || fail "pip install of the wheel: $(tail -5 "$work/pip.log")"
cd "$work"
lp=$(env -u CEMDIFF_LIBRARY LD_LIBRARY_PATH="$prefix/lib64" PYTHONPATH="$work/site" "$PYTHON" -c \
    'import cemdiff; print(cemdiff.library_path)')
[ "$lp" = "libcemdiff.so.$major" ] || fail "the wheel's package loaded: $lp"
cd - >/dev/null
ok

# 10. uninstall removes every file install made
# shellcheck disable=SC2086
make -s uninstall $dirs >/dev/null
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "uninstall left: $left"
ok

echo "check_install: NO_DEPS, flags, directories and DESTDIR, pkg-config, C/static/C++ hosts, the tool (moved prefix), man page, Python package, wheel, uninstall: $pass passed, 0 failed"
