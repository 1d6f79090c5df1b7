# libcemdiff -- one entry point: all, check, demo, bench, install, clean.
#
#   make                 build lib/libcemdiff.so.X.Y.Z, lib/libcemdiff.a
#   make check           build and run every test
#   make bindings        regenerate python/cemdiff/_api.py, julia/gen_api.jl
#                        and docs/API.md
#   make reliability     regenerate docs/RELIABILITY_badinput.md
#   make install PREFIX=/some/dir
#
# Missing build dependencies (Debian packages) are installed by `make deps`,
# which a build runs first and which says what it installs; NO_DEPS=1 turns
# that off (a missing dependency is then an error that names it), and
# `make install` never installs anything but libcemdiff.

# ---- the version, read from the one place it is written -------------------
version_part = $(shell sed -n 's/^\#define CEM_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' include/cemdiff.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION_MINOR := $(call version_part,MINOR)
VERSION_PATCH := $(call version_part,PATCH)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

# Where `make install` puts things (GNU's names; DESTDIR is prepended to
# every one, and none of them is recorded with it).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PYTHONDIR ?= $(PREFIX)/lib/python3/dist-packages
CC ?= cc
CXX ?= c++
CFLAGS ?= -O2 -g
# CPPFLAGS and LDFLAGS (empty by default) go to every compile and link.
PKG_CONFIG ?= pkg-config

# The libraries the library links (evaluated lazily: after `deps`).
DEP_PKGS = openblas lapacke
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(DEP_PKGS))
DEP_LIBS = $(shell $(PKG_CONFIG) --libs $(DEP_PKGS)) -lm -pthread
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -Iinclude
LIB_CFLAGS = $(BASE_CFLAGS) -fPIC -fvisibility=hidden -DCEM_BUILDING_LIBRARY -Isrc

SONAME = libcemdiff.so.$(VERSION_MAJOR)
SHLIB = lib/libcemdiff.so.$(VERSION)
# The ABI as released, one baseline per major version (tests/check_abi.sh).
ABI_BASELINE = abi/$(SONAME).abi
STLIB = lib/libcemdiff.a
OBJDIR = lib/.obj

SRC = $(wildcard src/*.c)
OBJ = $(SRC:src/%.c=$(OBJDIR)/%.o)
HDR = include/cemdiff.h $(wildcard src/*.h src/*.inc)

TEST_SRC = $(wildcard tests/test_*.c) tests/check_main.c tests/gauss_law.c
TEST_BIN = tests/.bin/check_cemdiff
# The fuzz targets (tests/fuzz/) and their replay without libFuzzer, which
# make check runs (defined here: check's prerequisites name them).
FUZZ_TARGETS = model_load trainer_load csv_read options
REPLAY_DIR = tests/.bin/fuzz
REPLAY_BINS = $(FUZZ_TARGETS:%=$(REPLAY_DIR)/%) $(REPLAY_DIR)/selftest

.PHONY: sampling-orders reliability fuzz fuzz-deps fuzz-build fuzz-merge fuzz-corpus fuzz-replay man check-asan check-tsan valgrind python-api bindings report-recipes abi-baseline all deps test-deps plot-deps report report-torch bench examples check install uninstall clean demo mpi scaling

all: $(SHLIB) lib/$(SONAME) lib/libcemdiff.so $(STLIB)

# ---- dependencies: install what is missing, and say so --------------------
DEB_OF_openblas = libopenblas-dev
DEB_OF_lapacke = liblapacke-dev
DEB_OF_check = check
deps:
	@missing=""; \
	command -v $(PKG_CONFIG) >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	for p in openblas lapacke check; do \
	  $(PKG_CONFIG) --exists $$p 2>/dev/null || case $$p in \
	    openblas) missing="$$missing libopenblas-dev";; \
	    lapacke) missing="$$missing liblapacke-dev";; \
	    check) missing="$$missing check";; esac; \
	done; \
	[ -f /usr/include/Random123/philox.h ] || missing="$$missing librandom123-dev"; \
	if [ -n "$$missing" ] && [ -n "$(NO_DEPS)" ]; then \
	  echo "cemdiff: missing build dependencies:$$missing (NO_DEPS is set: install them, or run make deps)" >&2; \
	  exit 1; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "cemdiff: installing missing build dependencies:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing \
	    || { echo "cemdiff: could not install:$$missing (apt-get failed)" >&2; exit 1; }; \
	fi

# The test dependencies: PyTorch and NumPy for the cross-checks (Debian's, for
# the system Python: a virtualenv or pyenv python3 does not see Debian's
# modules), abigail-tools for the ABI check, pip, setuptools, wheel and man
# for the install test, Open MPI for the MPI layer's test (tests/check_mpi.sh).
PYTHON ?= /usr/bin/python3
test-deps: deps
	@if [ -n "$(NO_DEPS)" ]; then exit 0; fi; \
	missing=""; \
	$(PYTHON) -c "import torch" >/dev/null 2>&1 || missing="$$missing python3-torch"; \
	$(PYTHON) -c "import numpy" >/dev/null 2>&1 || missing="$$missing python3-numpy"; \
	$(PYTHON) -m pip --version >/dev/null 2>&1 || missing="$$missing python3-pip"; \
	$(PYTHON) -c "import setuptools" >/dev/null 2>&1 || missing="$$missing python3-setuptools"; \
	$(PYTHON) -c "import wheel" >/dev/null 2>&1 || missing="$$missing python3-wheel"; \
	command -v abidiff >/dev/null 2>&1 || missing="$$missing abigail-tools"; \
	command -v man >/dev/null 2>&1 || missing="$$missing man-db"; \
	command -v mpicc >/dev/null 2>&1 || missing="$$missing libopenmpi-dev"; \
	command -v mpirun >/dev/null 2>&1 || missing="$$missing openmpi-bin"; \
	if [ -n "$$missing" ]; then \
	  echo "cemdiff: installing the test dependencies:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing \
	    || { echo "cemdiff: could not install the test dependencies:$$missing (apt-get failed)" >&2; exit 1; }; \
	fi

# ---- the library ------------------------------------------------------------
# The network kernels are loops for the vectoriser, which -O2 (GCC's
# "very cheap" cost model) leaves scalar; measured: SiLU forward 44% of a
# W1 training step at -O2.  Fused multiply-adds in them (the exponential's
# polynomial): sampling +5% (docs/PERFORMANCE.md).
$(OBJDIR)/nn.o: CFLAGS += -O3 -ffp-contract=fast
# The matrix product's micro-kernels need multiply-adds fused (ISO C mode
# turns contraction off).
$(OBJDIR)/gemm.o: CFLAGS += -O3 -ffp-contract=fast
# The closed forms' double products (linalg.c) are loops for the vectoriser;
# never fused, so that every CPU (and compiler) gives the same bits.
$(OBJDIR)/linalg.o: CFLAGS += -O3 -ffp-contract=off
# The optimiser's update loop vectorises once sqrtf needs no errno.
$(OBJDIR)/trainer.o: CFLAGS += -O3 -fno-math-errno
$(OBJDIR)/%.o: src/%.c $(HDR) | deps
	@mkdir -p $(OBJDIR)
	$(CC) $(LIB_CFLAGS) $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(SHLIB): $(OBJ) src/exports.map
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined \
	    -Wl,--version-script=src/exports.map -o $@ $(OBJ) $(DEP_LIBS)

lib/$(SONAME): $(SHLIB)
	ln -sf $(notdir $(SHLIB)) $@

lib/libcemdiff.so: lib/$(SONAME)
	ln -sf $(SONAME) $@

$(STLIB): $(OBJ)
	rm -f $@
	ar rcs $@ $(OBJ)

# The .pc file names the install directories, so it is made by `install`.
# OpenBLAS and LAPACKE are the library's private business: their link flags
# go to Libs.private (for --static), and none of their include paths, which
# Requires.private would have added to --cflags.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
    -e 's|@LIBS_PRIVATE@|$(strip $(DEP_LIBS))|'

# ---- examples: built as any host builds them, against the shared library ----
EXAMPLES = $(patsubst examples/%.c,bin/%,$(wildcard examples/*.c))
HOST_LDFLAGS = -Llib -lcemdiff -Wl,-rpath,'$$ORIGIN/../lib' -lm

bin/%: examples/%.c $(wildcard examples/*.h) include/cemdiff.h lib/libcemdiff.so
	@mkdir -p bin
	$(CC) -std=c11 -Wall -Wextra -Werror -Iinclude $(CPPFLAGS) $(CFLAGS) -o $@ $< \
	    $(LDFLAGS) $(HOST_LDFLAGS)

examples: $(EXAMPLES)

# The optional MPI layer (docs/SCALING.md): built with mpicc when Open MPI
# (libopenmpi-dev) is installed; the library itself never links MPI.
MPICC ?= mpicc
bin/cemdiff-mpi: examples/mpi/cemdiff_mpi.c include/cemdiff.h lib/libcemdiff.so
	@mkdir -p bin
	$(MPICC) -std=c11 -Wall -Wextra -Werror -Iinclude $(CPPFLAGS) $(CFLAGS) -o $@ $< \
	    $(LDFLAGS) $(HOST_LDFLAGS)

mpi: bin/cemdiff-mpi

# The measurements of docs/SCALING.md (a few minutes; a quiet machine).
scaling: all bin/cemdiff-mpi
	sh tools/scaling.sh

# gnuplot draws the demo's and the report's pictures.
plot-deps: deps
	@if ! command -v gnuplot >/dev/null 2>&1; then \
	  echo "cemdiff: installing gnuplot (for the pictures)"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends gnuplot-nox \
	    || { echo "cemdiff: could not install gnuplot-nox" >&2; exit 1; }; \
	fi

demo: all examples | plot-deps
	bin/demo bin/demo-output

# Regenerates docs/REPORT.md (the paper's experiments, about 15 minutes on 2
# cores), docs/RECIPES.md (the recipe comparison that chose the defaults,
# about 80 minutes; each run is cached in docs/figures/recipes_runs.tsv, so
# an interrupted run resumes) and docs/figures.  QUICK=1: a smoke test of
# both in a few minutes, written to tests/.bin/report-quick.
REPORT_OUT = $(if $(QUICK),tests/.bin/report-quick,docs)
report: all examples | plot-deps
	@mkdir -p $(REPORT_OUT)
	bin/recipes $(if $(QUICK),--quick) --out $(REPORT_OUT)
	bin/report $(if $(QUICK),--quick) --out $(REPORT_OUT)

# The recipe comparison alone, and its verdict brought up to date in
# docs/REPORT.md (whose experiments do not depend on it).
report-recipes: all examples | plot-deps
	bin/recipes --out docs
	bin/report --verdict --out docs

# The independent PyTorch check of docs/RECIPES.md (tests/torch_recipes.py):
# the circle, the knot and the scaled circle, the five recipes with the
# laws bin/recipes chose, three seeds, t_1 = 1e-3 (about a minute a run on
# one core, 45 runs; cached and resumable like the C runs).  Then
# `make report` puts its table in docs/RECIPES.md.
report-torch: test-deps
	@[ -f docs/figures/recipes_laws.txt ] || { echo "cemdiff: run make report first (it chooses the laws)" >&2; exit 1; }
	$(PYTHON) tests/torch_recipes.py --all --t1s 1e-3 --seeds 3 --steps 3000 \
	    --laws $$(cat docs/figures/recipes_laws.txt) --out docs/figures/torch_recipes_runs.txt

# ---- benchmarks (shared/BENCHMARK.md's W1) ----------------------------------
#   make bench            the library's figures, one JSON object per line
#   make bench VS=torch   also PyTorch at 1 and 2 threads, and the ratios
tests/.bin/bench: tests/bench.c include/cemdiff.h lib/libcemdiff.so | deps
	@mkdir -p tests/.bin
	$(CC) -std=c11 -Wall -Wextra -Werror -Iinclude $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ $< \
	    $(LDFLAGS) -Llib -lcemdiff -Wl,-rpath,'$$ORIGIN/../../lib' $(DEP_LIBS)

bench: all tests/.bin/bench
	tests/.bin/bench $(BENCH_FLAGS) | tee tests/.bin/bench.jsonl
	@if [ "$(VS)" = torch ]; then $(MAKE) -s test-deps && \
	  $(PYTHON) tests/bench_torch.py tests/.bin/bench tests/.bin/bench.jsonl $(BENCH_FLAGS); fi

# ---- tests ------------------------------------------------------------------
# The suite wraps the library's allocator and the C library calls that
# allocate for it (tests/tests.h, test_alloc_fail), and the calls of its
# write path (test_io_fail), to make chosen ones fail.
TEST_WRAP = -Wl,--wrap=cemi_alloc,--wrap=cemi_calloc,--wrap=cemi_realloc \
    -Wl,--wrap=fdopen,--wrap=getline,--wrap=pthread_create \
    -Wl,--wrap=mkstemp,--wrap=fwrite,--wrap=fprintf,--wrap=putc,--wrap=fflush \
    -Wl,--wrap=fsync,--wrap=fclose,--wrap=rename
$(TEST_BIN): $(TEST_SRC) tests/tests.h tests/gauss_law.h $(STLIB) | deps
	@mkdir -p tests/.bin
	$(CC) $(BASE_CFLAGS) -Isrc $(DEP_CFLAGS) $(CHECK_CFLAGS) $(CPPFLAGS) $(CFLAGS) \
	    -o $@ $(TEST_SRC) $(LDFLAGS) $(TEST_WRAP) \
	    $(STLIB) $(CHECK_LIBS) $(DEP_LIBS)

tests/.bin/noalloc: tests/noalloc.c $(STLIB) | deps
	@mkdir -p tests/.bin
	$(CC) $(BASE_CFLAGS) $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(STLIB) $(DEP_LIBS)

check: all examples $(TEST_BIN) tests/.bin/noalloc $(REPLAY_BINS) | test-deps
	$(TEST_BIN)
	tests/.bin/noalloc
	$(FUZZ_REPLAY)
	$(PYTHON) tests/torch_check.py lib/libcemdiff.so
	$(PYTHON) tools/cemdiff_api.py include/cemdiff.h --check-python python/cemdiff/_api.py
	$(PYTHON) tools/cemdiff_api.py include/cemdiff.h --check-markdown docs/API.md
	$(PYTHON) tests/check_julia.py
	$(PYTHON) tests/badinput_report.py $(TEST_BIN) --check docs/RELIABILITY_badinput.md
	env -u CEMDIFF_LIBRARY $(PYTHON) -m unittest discover -s tests/python
	sh tests/check_cli.sh bin/cemdiff
	sh tests/check_symbols.sh lib/libcemdiff.so include/cemdiff.h
	sh tests/check_abi.sh lib/$(SONAME) include $(ABI_BASELINE)
	$(PYTHON) tools/cemdiff_man.py bin/cemdiff --check docs/cemdiff.1
	groff -man -ww -z docs/cemdiff.1
	sh tests/check_install.sh
	sh tests/check_cpp.sh
	@if command -v $(MPICC) >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory bin/cemdiff-mpi && sh tests/check_mpi.sh bin/cemdiff-mpi; \
	else echo "cemdiff: Open MPI is not installed (make test-deps): tests/check_mpi.sh skipped"; fi

# The Check suite and the fuzz replay (the corpus and past crashes of
# tests/fuzz) under AddressSanitizer and UndefinedBehaviorSanitizer (every
# report fatal), from objects of their own in tests/.asan; a failed
# allocation returns NULL as it does without ASan (the suite tests that).
ASAN_DIR = tests/.asan
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-asan: | test-deps
	$(MAKE) --no-print-directory OBJDIR=$(ASAN_DIR)/obj STLIB=$(ASAN_DIR)/libcemdiff.a \
	    TEST_BIN=$(ASAN_DIR)/check_cemdiff REPLAY_DIR=$(ASAN_DIR)/fuzz CFLAGS="$(ASAN_FLAGS)" \
	    $(ASAN_DIR)/check_cemdiff $(subst $(REPLAY_DIR)/,$(ASAN_DIR)/fuzz/,$(REPLAY_BINS))
	ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1 CK_TIMEOUT_MULTIPLIER=10 $(ASAN_DIR)/check_cemdiff
	ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=1; \
	UBSAN_OPTIONS=print_stacktrace=1; export ASAN_OPTIONS UBSAN_OPTIONS; \
	$(subst $(REPLAY_DIR)/,$(ASAN_DIR)/fuzz/,$(FUZZ_REPLAY))

# ---- fuzzing (tests/fuzz/, docs/RELIABILITY.md) -----------------------------
#   make fuzz [FUZZ_SECONDS=60]   builds each target with clang and libFuzzer
#                                 (ASan and UBSan, every report fatal) against
#                                 the library compiled the same way in
#                                 tests/.fuzz/obj, then fuzzes each for
#                                 FUZZ_SECONDS on one CPU, on a copy of its
#                                 committed corpus in tests/.fuzz/run/TARGET
#                                 (the log beside it); stops at the first
#                                 crash, leak or broken invariant, whose input
#                                 is saved there
#   make fuzz-merge               adds the inputs of the last run that reach
#                                 new code to the committed corpus
#   make fuzz-corpus              rewrites the generated seeds
#                                 (tests/fuzz/make_corpus.c)
# `make check` replays the committed corpus and every past crash input
# (tests/fuzz/crashes/TARGET) through the same targets, built with $(CC)
# against the normal static library and tests/fuzz/replay.c: no clang
# needed.  Only `make fuzz` installs clang (and the libFuzzer runtime).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_DIR = tests/.fuzz
FUZZ_RUN = $(FUZZ_DIR)/run
FUZZ_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
    -fno-omit-frame-pointer -fsanitize=fuzzer-no-link
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/%)
FUZZ_HDR = tests/fuzz/fuzz.h include/cemdiff.h
# extra libFuzzer flags for `make fuzz` (e.g. FUZZ_ARGS=-jobs=2)
FUZZ_ARGS ?=
# The fuzzers run on one CPU, the first this make may use (taskset): the
# library's teams of threads then never spin on another core (pool.c).
# FUZZ_PIN= runs them unpinned.
FUZZ_PIN ?= $(shell cpu=$$(taskset -pc $$$$ 2>/dev/null | sed -e 's/.*: //' -e 's/[-,].*//'); \
    [ -n "$$cpu" ] && echo taskset -c $$cpu)
# the replay of `make check` (and `make fuzz-replay`): the driver's own
# test, then every target on its corpus and its past crashes
FUZZ_REPLAY = sh tests/fuzz/check_replay.sh $(REPLAY_DIR)/selftest \
    $(foreach t,$(FUZZ_TARGETS),&& $(REPLAY_DIR)/$(t) tests/fuzz/corpus/$(t) $(wildcard tests/fuzz/crashes/$(t)))

# clang, its libFuzzer runtime (Debian's libclang-rt-dev) and
# llvm-symbolizer (the sanitizers' stack traces), installed when missing.
fuzz-deps: deps
	@if [ -n "$(NO_DEPS)" ]; then exit 0; fi; \
	missing=""; \
	if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then missing=" clang libclang-rt-dev"; \
	elif ! printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' | \
	  $(FUZZ_CC) -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; then \
	  missing=" libclang-rt-dev"; fi; \
	command -v llvm-symbolizer >/dev/null 2>&1 || missing="$$missing llvm"; \
	if [ -n "$$missing" ]; then \
	  echo "cemdiff: installing the fuzzing dependencies:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing \
	    || { echo "cemdiff: could not install the fuzzing dependencies:$$missing (apt-get failed)" >&2; exit 1; }; \
	fi

# The library and the targets, built by a make of their own whose objects
# and static library live in tests/.fuzz (as check-asan does).
fuzz-build: | fuzz-deps
	$(MAKE) --no-print-directory OBJDIR=$(FUZZ_DIR)/obj STLIB=$(FUZZ_DIR)/libcemdiff.a \
	    CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" NO_DEPS=1 $(FUZZ_BINS)

$(FUZZ_DIR)/bin/%: tests/fuzz/%.c $(FUZZ_HDR) $(STLIB)
	@mkdir -p $(FUZZ_DIR)/bin
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(LDFLAGS) $(STLIB) $(DEP_LIBS)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  dir=$(FUZZ_RUN)/$$t; rm -rf $$dir && mkdir -p $$dir/corpus && \
	  cp tests/fuzz/corpus/$$t/* $$dir/corpus/ || exit 1; \
	  crashes=tests/fuzz/crashes/$$t; [ -d $$crashes ] || crashes=; \
	  echo "cemdiff: fuzzing $$t for $(FUZZ_SECONDS) s (log: $$dir.log)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(FUZZ_PIN) $(FUZZ_DIR)/bin/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=25 -print_final_stats=1 \
	      -artifact_prefix=$$dir/ $(FUZZ_ARGS) $$dir/corpus $$crashes > $$dir.log 2>&1; \
	  status=$$?; \
	  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^stat::peak_rss_mb' $$dir.log; \
	  if [ $$status -ne 0 ]; then \
	    tail -n 60 $$dir.log; \
	    echo "cemdiff: fuzzing $$t failed; the input is in $$dir/ (crash-*, leak-*, timeout-*, oom-*)" >&2; \
	    exit 1; \
	  fi; \
	done

fuzz-merge: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  [ -d $(FUZZ_RUN)/$$t/corpus ] || continue; \
	  $(FUZZ_DIR)/bin/$$t -merge=1 tests/fuzz/corpus/$$t $(FUZZ_RUN)/$$t/corpus 2>&1 | \
	      grep -E 'MERGE-OUTER: [0-9]+ new files' || exit 1; \
	done

tests/.bin/make_corpus: tests/fuzz/make_corpus.c $(FUZZ_HDR) $(STLIB) | deps
	@mkdir -p tests/.bin
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(STLIB) $(DEP_LIBS)

fuzz-corpus: tests/.bin/make_corpus
	tests/.bin/make_corpus tests/fuzz/corpus tests/data

$(REPLAY_DIR)/%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_HDR) $(STLIB) | deps
	@mkdir -p $(REPLAY_DIR)
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ tests/fuzz/replay.c $< \
	    $(LDFLAGS) $(STLIB) $(DEP_LIBS)

fuzz-replay: $(REPLAY_BINS)
	$(FUZZ_REPLAY)

# The Check suite under ThreadSanitizer (every report fatal), from objects of
# its own in tests/.tsan; tests/test_threads.c is the part written for it.
TSAN_DIR = tests/.tsan
TSAN_FLAGS = -O1 -g -fsanitize=thread -fno-omit-frame-pointer
check-tsan: | test-deps
	$(MAKE) --no-print-directory OBJDIR=$(TSAN_DIR)/obj STLIB=$(TSAN_DIR)/libcemdiff.a \
	    TEST_BIN=$(TSAN_DIR)/check_cemdiff CFLAGS="$(TSAN_FLAGS)" $(TSAN_DIR)/check_cemdiff
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1 \
	    OPENBLAS_NUM_THREADS=1 \
	    CK_TIMEOUT_MULTIPLIER=10 $(TSAN_DIR)/check_cemdiff

# Memcheck over the whole job as a user runs it (tests/valgrind.sh): zero
# errors and zero bytes lost, or it fails.
valgrind: all examples
	sh tests/valgrind.sh

# Records the library's ABI as released.  Within a major version the new
# baseline must keep the old one's promises (only additions); an
# incompatible change needs CEM_VERSION_MAJOR bumped, hence a new soname and
# a new baseline file.
abi-baseline: all | test-deps
	@mkdir -p abi
	@if [ -f $(ABI_BASELINE) ]; then sh tests/check_abi.sh lib/$(SONAME) include $(ABI_BASELINE) \
	  || { echo "cemdiff: an incompatible ABI change needs a new major version" >&2; exit 1; }; fi
	abidw --headers-dir include --no-corpus-path lib/$(SONAME) > $(ABI_BASELINE)

# The Python package's declarations, generated from the header (make check
# fails when the committed file and the header disagree).
# Each file is written to a temporary name and renamed into place only when
# the generator succeeds (a header it cannot parse leaves the files as they
# were, never empty).
python-api:
	$(PYTHON) tools/cemdiff_api.py include/cemdiff.h --python > python/cemdiff/_api.py.tmp || { rm -f python/cemdiff/_api.py.tmp; exit 1; }
	mv python/cemdiff/_api.py.tmp python/cemdiff/_api.py

# Every generated binding: the Python declarations, julia/gen_api.jl
# (the ccall layer of julia/CemDiff.jl; tests/check_julia.py checks it) and
# the API reference docs/API.md (the header's declarations and comments,
# and the quick starts of tools/api_quickstart.md; make check fails when it
# is stale).
bindings: python-api
	$(PYTHON) tools/cemdiff_api.py include/cemdiff.h --julia > julia/gen_api.jl.tmp || { rm -f julia/gen_api.jl.tmp; exit 1; }
	mv julia/gen_api.jl.tmp julia/gen_api.jl
	$(PYTHON) tools/cemdiff_api.py include/cemdiff.h --markdown > docs/API.md.tmp || { rm -f docs/API.md.tmp; exit 1; }
	mv docs/API.md.tmp docs/API.md

# The order tables and figure of docs/SAMPLING.md (tests/sampling_orders.c,
# from the computations of the sampler suite's order tests): the tables go
# between the markers "<!-- orders: begin -->" and "<!-- orders: end -->".
tests/.bin/sampling_orders: tests/sampling_orders.c tests/gauss_law.c tests/gauss_law.h $(STLIB) | deps
	@mkdir -p tests/.bin
	$(CC) $(BASE_CFLAGS) $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ tests/sampling_orders.c \
	    tests/gauss_law.c $(LDFLAGS) $(STLIB) $(DEP_LIBS)

sampling-orders: tests/.bin/sampling_orders | plot-deps
	tests/.bin/sampling_orders docs/figures/orders.dat > tests/.bin/orders.md
	$(PYTHON) -c 'import re,sys; d=open("docs/SAMPLING.md").read(); t=open("tests/.bin/orders.md").read(); \
	    b,e="<!-- orders: begin -->\n","<!-- orders: end -->"; i,j=d.index(b)+len(b),d.index(e); \
	    open("docs/SAMPLING.md","w").write(d[:i]+t+d[j:])'
	gnuplot -e "set terminal pngcairo size 860,560 noenhanced; \
	    set output 'docs/figures/orders.png'; set logscale xy; set xrange [4:200]; \
	    set yrange [1e-5:10]; set format y '%.0e'; set xlabel 'steps M (exponential grid)'; \
	    set ylabel 'weak error of y(t1)'; set grid; set key outside right; \
	    plot for [k=2:10] 'docs/figures/orders.dat' u 1:k w lp lw 2 t columnhead(k)"

# The bad-input table: the Check suite badinput (tests/test_badinput.c)
# calls every function of the header with input its contract refuses and
# writes what it tried and what came back; tests/badinput_report.py runs it
# and makes the page (make check fails when the committed page is stale, a
# function has no row, or a status shown is not one the header lists).
reliability: $(TEST_BIN)
	$(PYTHON) tests/badinput_report.py $(TEST_BIN) --out docs/RELIABILITY_badinput.md

# ---- install ----------------------------------------------------------------
# `make install` builds what is missing without installing any package
# (NO_DEPS), then copies.  The installed tool finds the library through a
# run path relative to its own place ($ORIGIN/<BINDIR to LIBDIR>), so a
# prefix may be moved whole; a host program finds it as README says.  The
# Python package records where the library went (_libpath.txt: LIBDIR,
# without DESTDIR).
INSTALL_RPATH = $$ORIGIN/$(shell realpath -m --relative-to="$(BINDIR)" "$(LIBDIR)")
PY_FILES = $(wildcard python/cemdiff/*.py)
install: NO_DEPS = 1
install: all docs/cemdiff.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(PYTHONDIR)/cemdiff
	$(CC) -std=c11 -Wall -Wextra -Werror -Iinclude $(CPPFLAGS) $(CFLAGS) \
	    -o $(OBJDIR)/cemdiff.install examples/cemdiff.c $(LDFLAGS) -Llib -lcemdiff \
	    -Wl,-rpath,'$(INSTALL_RPATH)' -lm
	install -m 755 $(OBJDIR)/cemdiff.install $(DESTDIR)$(BINDIR)/cemdiff
	install -m 644 include/cemdiff.h include/cemdiff.hpp $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcemdiff.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	$(PC_SED) pkgconfig/cemdiff.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/cemdiff.pc
	install -m 644 docs/cemdiff.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(PY_FILES) $(DESTDIR)$(PYTHONDIR)/cemdiff/
	printf '%s\n' '$(LIBDIR)/$(SONAME)' > $(DESTDIR)$(PYTHONDIR)/cemdiff/_libpath.txt

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/cemdiff.h $(DESTDIR)$(INCLUDEDIR)/cemdiff.hpp \
	      $(DESTDIR)$(BINDIR)/cemdiff $(DESTDIR)$(MANDIR)/man1/cemdiff.1 \
	      $(DESTDIR)$(LIBDIR)/libcemdiff.so* $(DESTDIR)$(LIBDIR)/libcemdiff.a \
	      $(DESTDIR)$(PKGCONFIGDIR)/cemdiff.pc
	rm -rf $(DESTDIR)$(PYTHONDIR)/cemdiff

# The manual page is the tool's own --help texts, set in roff
# (tools/cemdiff_man.py); make check fails when docs/cemdiff.1 is stale.
man: bin/cemdiff
	$(PYTHON) tools/cemdiff_man.py bin/cemdiff > docs/cemdiff.1

clean:
	rm -rf $(OBJDIR) lib/libcemdiff.* tests/.bin tests/.asan tests/.tsan tests/.fuzz $(EXAMPLES) \
	    bin/demo-output
