# symbold — build, run, test and benchmark. See README.md.
#
#   make run     install what is missing, build, mount ./symbols in the foreground
#   make check   install what is missing, build, run every test (plain and ASan+UBSan)
#   make asan    the same suite against an ASan + UBSan build
#   make bench   benchmarks; results go to docs/BENCHMARKS.md by hand
#   make trace   build-trace/symbold: where each cold key's time goes, on stderr
#   make soak    64 readers for 10 minutes against a faulty upstream (docs/RELIABILITY.md)
#   make deb     build/symbold_VERSION_ARCH.deb, with debhelper (debian/)

BUILD   ?= build
CC      ?= cc
PKGS    := fuse3 libcurl sqlite3 libmspack libelf libdw zlib libzstd libcrypto inih
OPT     ?= -O2
SANITIZE ?=

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The one place the version is written: the programs (--version, the control
# tree's `version`) get it from here, and debian/rules refuses a
# debian/changelog that says otherwise.
VERSION := $(shell cat VERSION)

DEFS    ?=
CPPFLAGS += -I. -D_GNU_SOURCE -DFUSE_USE_VERSION=314 -DSYMBOLD_VERSION='"$(VERSION)"' $(DEFS)
CFLAGS   += -std=c17 $(OPT) -g -Wall -Wextra -Werror $(SANITIZE) $(PKG_CFLAGS)
LDFLAGS  += $(SANITIZE)
LDLIBS   += $(PKG_LIBS) -liberty -lpthread

LIB_SRCS  := $(filter-out admin/symbold-admin.c,$(wildcard common/*.c convert/*.c admin/*.c fetch/*.c)) \
             $(filter-out fs/main.c,$(wildcard fs/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BINS := $(BUILD)/bench/readall $(BUILD)/bench/symconv

MAKEFLAGS += --no-print-directory
FUZZ_FLAGS := BUILD=build-fuzz CC=clang OPT=-O1 \
	SANITIZE="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
TRACE_FLAGS := BUILD=build-trace DEFS=-DSYMBOLD_TRACE
ASAN_FLAGS := BUILD=build-asan OPT=-O1 DEFS=-DSYMBOLD_LOCK_RANKS \
	SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man

.PHONY: all deps run check test asan asan-build fuzz fuzz-build fuzz-long fuzzers bench trace soak install deb clean
.SECONDARY:
all: $(BUILD)/symbold $(BUILD)/symbold-admin $(UNIT_BINS) $(BENCH_BINS)

deps:
	scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# SYMBOLD_VERSION's users: a new VERSION rebuilds them
$(BUILD)/obj/fs/main.o $(BUILD)/obj/fs/control.o $(BUILD)/obj/fs/metrics.o $(BUILD)/obj/admin/symbold-admin.o: VERSION

$(BUILD)/libsymbold.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/symbold: $(BUILD)/obj/fs/main.o $(BUILD)/libsymbold.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# a thin client of the control tree: libc only, none of the daemon's code
$(BUILD)/symbold-admin: $(BUILD)/obj/admin/symbold-admin.o $(BUILD)/obj/admin/scan.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libsymbold.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets (clang): tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libsymbold.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzzers: $(FUZZ_BINS)

# the converter as a command: the PDB benchmark and tests/t/104 run it
$(BUILD)/bench/symconv: $(BUILD)/obj/bench/symconv.o $(BUILD)/libsymbold.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

run: deps
	$(MAKE) all
	mkdir -p symbols
	$(BUILD)/symbold -f symbols  # clears the dead mounts a killed daemon left

# The suite runs twice, against the plain build and against ASan + UBSan,
# then every fuzz target for a bounded time; it ends with one line:
# "N passed, M failed".
check: deps
	$(MAKE) all
	$(MAKE) asan-build
	$(MAKE) fuzz-build
	tests/run --build $(BUILD) --build build-asan --fuzz build-fuzz

test: all
	tests/run --build $(BUILD)

asan: asan-build
	tests/run --build build-asan

# a build that writes where each cold key's time goes to stderr (common/trace.h)
trace:
	$(MAKE) $(TRACE_FLAGS) build-trace/symbold

asan-build:
	$(MAKE) $(ASAN_FLAGS) all

fuzz-build:
	$(MAKE) $(FUZZ_FLAGS) fuzzers

# every fuzz target for FUZZ_SECONDS (default 30) each
fuzz: fuzz-build
	tests/run --fuzz build-fuzz --fuzz-only

# every fuzz target for an hour, at once and niced, corpora kept (docs/RELIABILITY.md)
fuzz-long: fuzz-build
	bench/fuzz-long --build build-fuzz

bench: deps
	$(MAKE) all
	bench/run --build $(BUILD)

soak: deps
	$(MAKE) all
	bench/soak --build $(BUILD)

# the programs and their manual pages; nothing of the tests is needed for it
install: $(BUILD)/symbold $(BUILD)/symbold-admin
	install -D -m 0755 $(BUILD)/symbold $(DESTDIR)$(PREFIX)/bin/symbold
	install -D -m 0755 $(BUILD)/symbold-admin $(DESTDIR)$(PREFIX)/bin/symbold-admin
	install -D -m 0644 docs/man/symbold.8 $(DESTDIR)$(MANDIR)/man8/symbold.8
	install -D -m 0644 docs/man/symbold-admin.1 $(DESTDIR)$(MANDIR)/man1/symbold-admin.1
	install -D -m 0644 docs/man/symbold.conf.5 $(DESTDIR)$(MANDIR)/man5/symbold.conf.5

# The Debian package, built by dpkg-buildpackage in a copy of the sources
# under $(BUILD)/deb, so that its clean step and its outputs (written to the
# parent directory) touch neither this tree nor the directory above it.
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_SRC  = $(BUILD)/deb/symbold-$(VERSION)
deb:
	scripts/install-deps deb
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_SRC)
	cp -a Makefile VERSION README.md common convert admin fetch fs docs debian $(DEB_SRC)/
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc -J$(or $(JOBS),2)
	cp $(BUILD)/deb/symbold_$(VERSION)_$(DEB_ARCH).deb $(BUILD)/
	@echo "make deb: $(BUILD)/symbold_$(VERSION)_$(DEB_ARCH).deb"

clean:
	rm -rf build build-asan build-fuzz build-trace

# (not make deb's copy of the sources, whose own build is in $(BUILD)/deb)
-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -name '*.d' -print 2>/dev/null)
