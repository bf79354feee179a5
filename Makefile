# libqb-rs: build, test and install a drop-in libqb.so.100.
#
#   make                 libqb.so.100.3.3 (+ symlinks), headers, libqb.pc in target/release
#   make check           cargo test, C test suite (ours + stock libqb, and ours under
#                        ASan+UBSan: check-asan), ABI gates, lint
#   make demo            build and run the C examples against the fresh library
#   make install PREFIX=/usr/local [DESTDIR=] [LIBDIR=]
#   make headers         refresh the cbindgen regions of include/qb/*.h
#   make fuzz-smoke      short cargo-fuzz run of every target (needs cargo-fuzz)

VERSION      := 2.0.10
SONAME       := libqb.so.100
# libtool -version-info 103:3:3 of libqb 2.0.10 gives libqb.so.100.3.3.
REALNAME     := libqb.so.100.3.3

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
BINDIR       ?= $(PREFIX)/bin
DESTDIR      ?=

CARGO        ?= cargo
CC           ?= gcc
# TARGET_DIR lets several checkouts or engineers build side by side.
TARGET_DIR   ?= target
export CARGO_TARGET_DIR := $(TARGET_DIR)
OUT          := $(TARGET_DIR)/release
CTEST_OUT    := $(TARGET_DIR)/c-tests
ASAN_OUT     := $(TARGET_DIR)/c-tests-asan
STOCK_LIB    ?= /usr/lib/x86_64-linux-gnu/libqb.so.100

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
CWARN        := -Wall -Wextra -Werror
# What Rust's std needs from the system when linked from a staticlib.
SHELL        := /bin/bash
NATIVE_LIBS  := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

HEADERS      := $(wildcard include/qb/*.h)
RUST_SRC     := $(shell find src -type f) Cargo.toml build.rs
C_TESTS      := $(patsubst c-tests/%.c,$(CTEST_OUT)/%,$(wildcard c-tests/check_*.c))
# Ring-buffer interop: the C tests run c-tests/rb_peer against the other libqb.
RB_PEER      := $(CTEST_OUT)/rb_peer
# Log output parity: check_log_parity runs c-tests/log_peer under both libraries.
LOG_PEER     := $(CTEST_OUT)/log_peer
# IPC interop: check_ipc_interop_* run c-tests/ipc_peer against the other libqb.
IPC_PEER     := $(CTEST_OUT)/ipc_peer
STOCK_LIBDIR := $(TARGET_DIR)/stock-lib
QB_BLACKBOX  := $(OUT)/qb-blackbox
RB_PEER_ENV  := QBT_PEER=$(abspath $(RB_PEER)) QBT_OURS_LIBDIR=$(abspath $(OUT)) \
	QBT_STOCK_LIBDIR=$(abspath $(STOCK_LIBDIR)) QBT_LOG_PEER=$(abspath $(LOG_PEER)) \
	QBT_IPC_PEER=$(abspath $(IPC_PEER)) QBT_BB_TOOL=$(abspath $(QB_BLACKBOX)) QBT_BB_CORPUS=$(abspath c-tests/blackbox-corpus)
EXAMPLES     := $(patsubst examples/%.c,$(TARGET_DIR)/examples/%,$(wildcard examples/*.c))

.PHONY: all lib check check-rust check-c check-c-stock check-asan check-abi lint checksuite demo install fuzz-smoke \
	uninstall headers clean

all: lib $(OUT)/libqb.pc $(QB_BLACKBOX)

lib: $(OUT)/$(REALNAME) $(OUT)/$(SONAME) $(OUT)/libqb.so

# The qb-blackbox tool (no rpath: it uses whichever libqb.so.100 the loader finds).
$(QB_BLACKBOX): tools/qb-blackbox.c $(HEADERS) | lib
	$(CC) -std=gnu11 $(CWARN) -O2 -Iinclude -o $@ $< -L$(OUT) -lqb

$(OUT)/libqb.a: $(RUST_SRC) $(HEADERS)
	$(CARGO) build --release --locked

# The export list is exactly libqb's public API; everything else stays local.
$(OUT)/libqb.map: abi/public-symbols.tsv
	@mkdir -p $(OUT)
	{ echo '{ global:'; cut -f1 $< | sed 's/$$/;/'; echo 'local: *; };'; } > $@

$(OUT)/$(REALNAME): $(OUT)/libqb.a $(OUT)/libqb.map
	$(CC) -shared -o $@ -Wl,-soname,$(SONAME) \
		-Wl,--whole-archive $(OUT)/libqb.a -Wl,--no-whole-archive \
		-Wl,--version-script=$(OUT)/libqb.map -Wl,--gc-sections \
		-Wl,-z,now -Wl,-z,relro -Wl,-z,noexecstack $(NATIVE_LIBS)

$(OUT)/$(SONAME): $(OUT)/$(REALNAME)
	ln -sf $(REALNAME) $@
$(OUT)/libqb.so: $(OUT)/$(SONAME)
	ln -sf $(SONAME) $@

# An uninstalled libqb.pc pointing at the source tree, for tests and demos.
$(OUT)/libqb.pc: pkgconfig/libqb.pc.in Makefile
	@mkdir -p $(OUT)
	sed -e 's|@PREFIX@|$(CURDIR)|; s|@LIBDIR@|$(abspath $(OUT))|' \
	    -e 's|@INCLUDEDIR@|$(CURDIR)/include|; s|@VERSION@|$(VERSION)|' $< > $@

headers:
	QB_WRITE_HEADERS=1 $(CARGO) build --release --locked

# ---------------------------------------------------------------- tests
LOGS := $(TARGET_DIR)/check-logs

# Each step's output is kept in $(LOGS); the closing line counts what ran.
check: all
	@rm -rf $(LOGS); mkdir -p $(LOGS)
	@set -o pipefail; $(MAKE) --no-print-directory check-rust 2>&1 | tee $(LOGS)/rust.log
	@set -o pipefail; $(MAKE) --no-print-directory check-c 2>&1 | tee $(LOGS)/c-ours.log
	@set -o pipefail; $(MAKE) --no-print-directory check-c-stock 2>&1 | tee $(LOGS)/c-stock.log
	@set -o pipefail; $(MAKE) --no-print-directory check-asan 2>&1 | tee $(LOGS)/c-asan.log
	@set -o pipefail; $(MAKE) --no-print-directory check-abi 2>&1 | tee $(LOGS)/abi.log
	@$(MAKE) --no-print-directory lint
	@scripts/check-summary.sh $(LOGS)

check-rust:
	$(CARGO) test --release --locked

$(CTEST_OUT)/%: c-tests/%.c c-tests/qbtest.h c-tests/mapped_lib.h c-tests/peer_spawn.h $(HEADERS) | lib
	@mkdir -p $(CTEST_OUT)
	$(CC) -std=gnu11 $(CWARN) -g -O1 -Iinclude $(CHECK_CFLAGS) -o $@ $< \
		-L$(OUT) -lqb $(CHECK_LIBS) -pthread

$(RB_PEER): c-tests/rb_peer.c c-tests/rb_chunks.h c-tests/mapped_lib.h c-tests/peer_side.h $(HEADERS) | lib
	@mkdir -p $(CTEST_OUT)
	$(CC) -std=gnu11 $(CWARN) -g -O1 -Iinclude -o $@ $< -L$(OUT) -lqb -pthread
$(CTEST_OUT)/check_rb_interop $(ASAN_OUT)/check_rb_interop: c-tests/rb_chunks.h c-tests/leak_probes.h
$(CTEST_OUT)/check_rb $(ASAN_OUT)/check_rb: c-tests/leak_probes.h
$(CTEST_OUT)/check_log_blackbox $(ASAN_OUT)/check_log_blackbox: c-tests/leak_probes.h
$(CTEST_OUT)/check_loop_jobs $(ASAN_OUT)/check_loop_jobs: c-tests/loop_trace.h
$(CTEST_OUT)/check_loop_poll $(ASAN_OUT)/check_loop_poll: c-tests/loop_trace.h
$(LOG_PEER): c-tests/log_peer.c c-tests/mapped_lib.h $(HEADERS) | lib
	@mkdir -p $(CTEST_OUT)
	$(CC) -std=gnu11 $(CWARN) -g -O1 -Iinclude -o $@ $< -L$(OUT) -lqb -pthread -ldl
RB_HOSTILE_H := c-tests/rb_chunks.h c-tests/rb_hostile_fixture.h c-tests/leak_probes.h
$(CTEST_OUT)/check_rb_hostile_header $(ASAN_OUT)/check_rb_hostile_header: $(RB_HOSTILE_H)
$(CTEST_OUT)/check_rb_hostile_chunks $(ASAN_OUT)/check_rb_hostile_chunks: $(RB_HOSTILE_H)
$(CTEST_OUT)/check_rb_hostile_files $(ASAN_OUT)/check_rb_hostile_files: $(RB_HOSTILE_H)
LOG_TARGET_H := c-tests/log_target_fixture.h c-tests/log_syslog_spy.h
$(CTEST_OUT)/check_log_files $(ASAN_OUT)/check_log_files: $(LOG_TARGET_H)
$(CTEST_OUT)/check_log_custom $(ASAN_OUT)/check_log_custom: $(LOG_TARGET_H)
$(CTEST_OUT)/check_log_threaded $(ASAN_OUT)/check_log_threaded: $(LOG_TARGET_H)
$(CTEST_OUT)/check_log_syslog $(ASAN_OUT)/check_log_syslog: $(LOG_TARGET_H)
$(CTEST_OUT)/check_log_filters $(ASAN_OUT)/check_log_filters: $(LOG_TARGET_H)
$(IPC_PEER): c-tests/ipc_peer.c c-tests/ipc_chat.h c-tests/ipc_shm_evil.h c-tests/mapped_lib.h c-tests/peer_side.h $(HEADERS) | lib
	@mkdir -p $(CTEST_OUT)
	$(CC) -std=gnu11 $(CWARN) -g -O1 -Iinclude -o $@ $< -L$(OUT) -lqb -pthread
IPC_INTEROP_H := c-tests/ipc_chat.h c-tests/leak_probes.h c-tests/ipc_interop_peer.h c-tests/ipc_interop_pair.h
$(CTEST_OUT)/check_ipc_interop_traffic $(ASAN_OUT)/check_ipc_interop_traffic: $(IPC_INTEROP_H)
$(CTEST_OUT)/check_ipc_interop_disconnect $(ASAN_OUT)/check_ipc_interop_disconnect: $(IPC_INTEROP_H)
IPCC_H := c-tests/ipc_chat.h c-tests/leak_probes.h c-tests/ipcc_fixture.h
$(CTEST_OUT)/check_ipcc_no_server $(ASAN_OUT)/check_ipcc_no_server: $(IPCC_H)
$(CTEST_OUT)/check_ipcc_real_server $(ASAN_OUT)/check_ipcc_real_server: $(IPCC_H)
$(CTEST_OUT)/check_ipcc_fake_server $(ASAN_OUT)/check_ipcc_fake_server: $(IPCC_H)
IPCS_H := c-tests/leak_probes.h c-tests/ipcs_fixture.h
$(CTEST_OUT)/check_ipcs_lifecycle $(ASAN_OUT)/check_ipcs_lifecycle: $(IPCS_H)
$(CTEST_OUT)/check_ipcs_service $(ASAN_OUT)/check_ipcs_service: $(IPCS_H)
$(CTEST_OUT)/check_ipcs_raw_client $(ASAN_OUT)/check_ipcs_raw_client: $(IPCS_H)
IPC_HOSTILE_WIRE_H := c-tests/ipc_chat.h c-tests/ipc_evil_server.h c-tests/ipc_hostile_fixture.h c-tests/ipc_hostile_wire.h
IPC_HOSTILE_SHM_H := c-tests/ipc_chat.h c-tests/ipc_shm_evil.h c-tests/ipc_hostile_fixture.h c-tests/ipc_hostile_shm.h
$(CTEST_OUT)/check_ipc_hostile_handshake $(ASAN_OUT)/check_ipc_hostile_handshake: $(IPC_HOSTILE_WIRE_H)
$(CTEST_OUT)/check_ipc_hostile_limits $(ASAN_OUT)/check_ipc_hostile_limits: $(IPC_HOSTILE_WIRE_H)
$(CTEST_OUT)/check_ipc_hostile_client $(ASAN_OUT)/check_ipc_hostile_client: $(IPC_HOSTILE_WIRE_H)
$(CTEST_OUT)/check_ipc_hostile_rings $(ASAN_OUT)/check_ipc_hostile_rings: $(IPC_HOSTILE_SHM_H)
$(CTEST_OUT)/check_ipc_hostile_lifetime $(ASAN_OUT)/check_ipc_hostile_lifetime: $(IPC_HOSTILE_SHM_H)

# Each C test runs against the library just built; qbtest.h checks /proc/self/maps.
check-c: $(C_TESTS) $(RB_PEER) $(LOG_PEER) $(IPC_PEER) $(QB_BLACKBOX)
	@set -e; if [ -e $(STOCK_LIB) ]; then mkdir -p $(STOCK_LIBDIR); \
		ln -sf $$(readlink -f $(STOCK_LIB)) $(STOCK_LIBDIR)/$(SONAME); fi; \
	for t in $(C_TESTS); do \
		echo "== $$t (libqb-rs)"; \
		QBT_IMPL=ours QBT_EXPECT_LIB=$(OUT)/$(REALNAME) LD_LIBRARY_PATH=$(OUT) \
			CK_DEFAULT_TIMEOUT=60 $(RB_PEER_ENV) $$t; \
	done

# The same binaries against Debian's stock libqb100: same results expected
# (cases where libqb-rs is deliberately stricter are marked QBT_OURS_ONLY).
check-c-stock: $(C_TESTS) $(RB_PEER) $(LOG_PEER) $(IPC_PEER) $(QB_BLACKBOX)
	@if [ ! -e $(STOCK_LIB) ]; then echo "SKIP check-c-stock: $(STOCK_LIB) not installed"; exit 0; fi; \
	set -e; mkdir -p $(TARGET_DIR)/stock-lib; ln -sf $$(readlink -f $(STOCK_LIB)) $(TARGET_DIR)/stock-lib/$(SONAME); \
	for t in $(C_TESTS); do \
		echo "== $$t (stock libqb)"; \
		QBT_IMPL=stock QBT_EXPECT_LIB=$(STOCK_LIB) LD_LIBRARY_PATH=$(TARGET_DIR)/stock-lib \
			CK_DEFAULT_TIMEOUT=60 $(RB_PEER_ENV) $$t; \
	done

# The C tests again, built with AddressSanitizer and UBSan (the library itself is
# Rust, linked as built). Two probes first prove the sanitizers are really active:
# each must be stopped by its sanitizer, or the target fails.
ASAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_TESTS  := $(patsubst c-tests/%.c,$(ASAN_OUT)/%,$(wildcard c-tests/check_*.c))
ASAN_LEAKS  ?= 1
ASAN_ENV    := ASAN_OPTIONS=detect_leaks=$(ASAN_LEAKS):fast_unwind_on_malloc=0:allocator_may_return_null=1:allow_user_segv_handler=1 \
	LSAN_OPTIONS=suppressions=$(abspath c-tests/lsan.supp) \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(ASAN_OUT)/%: c-tests/%.c c-tests/qbtest.h c-tests/mapped_lib.h c-tests/peer_spawn.h $(HEADERS) | lib
	@mkdir -p $(ASAN_OUT)
	$(CC) -std=gnu11 $(CWARN) -g -O1 $(ASAN_FLAGS) -Iinclude $(CHECK_CFLAGS) -o $@ $< \
		-L$(OUT) -lqb $(CHECK_LIBS) -pthread
$(ASAN_OUT)/sanitizer-probe: scripts/sanitizer-probe.c
	@mkdir -p $(ASAN_OUT)
	$(CC) -std=gnu11 -g -O0 $(ASAN_FLAGS) -o $@ $<

check-asan: $(ASAN_TESTS) $(ASAN_OUT)/sanitizer-probe $(RB_PEER) $(LOG_PEER) $(IPC_PEER) $(QB_BLACKBOX)
	@set -e; p=$(ASAN_OUT)/sanitizer-probe; \
	for probe in heap-overflow:heap-buffer-overflow use-after-free:heap-use-after-free \
			signed-overflow:'signed integer overflow'; do \
		kind=$${probe%%:*} report=$${probe#*:}; \
		if $(ASAN_ENV) $$p $$kind 2>$(ASAN_OUT)/probe.err; then \
			echo "check-asan: probe $$kind was not caught: sanitizer not active" >&2; exit 1; fi; \
		grep -q "$$report" $(ASAN_OUT)/probe.err || \
			{ echo "check-asan: probe $$kind died without a '$$report' report" >&2; \
			  head -5 $(ASAN_OUT)/probe.err >&2; exit 1; }; \
		echo "check-asan: probe $$kind caught by the sanitizer ($$report)"; \
	done; \
	for t in $(ASAN_TESTS); do \
		readelf -d $$t | grep -q 'libasan' || { echo "check-asan: $$t lacks libasan" >&2; exit 1; }; \
		echo "== $$t (libqb-rs, ASan+UBSan)"; \
		QBT_IMPL=ours QBT_EXPECT_LIB=$(OUT)/$(REALNAME) LD_LIBRARY_PATH=$(OUT) \
			CK_DEFAULT_TIMEOUT=120 $(ASAN_ENV) $(RB_PEER_ENV) $$t; \
	done

# Every cargo-fuzz target for FUZZ_SECONDS (default 20) on a scratch copy of its
# committed corpus (the corpora themselves are replayed by cargo test). Builds
# in $(TARGET_DIR)/fuzz; crashing inputs go to $(TARGET_DIR)/fuzz-artifacts.
fuzz-smoke:
	scripts/fuzz-smoke.sh

check-abi: lib
	scripts/abi-symbols.sh $(OUT)/$(REALNAME) abi/public-symbols.tsv abi/internal-exports.txt
	scripts/abi-headers.sh
	scripts/abi-layout.sh
	scripts/panic-guard.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

# libqb's own upstream test suite against an installed copy of this build
# (needs ../shared/harness; CHECKSUITE_FILTER selects cases, e.g. '^check_map:').
CHECKSUITE       ?= ../shared/harness/checksuite/run.sh
CHECKSUITE_FILTER ?= ^check_(array|list|map|util|tlist):
checksuite: all
	rm -rf $(TARGET_DIR)/prefix
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(TARGET_DIR))/prefix >/dev/null
	$(CHECKSUITE) $(abspath $(TARGET_DIR))/prefix '$(CHECKSUITE_FILTER)'

# ---------------------------------------------------------------- demo
$(TARGET_DIR)/examples/%: examples/%.c $(HEADERS) | all
	@mkdir -p $(TARGET_DIR)/examples
	$(CC) -std=gnu11 $(CWARN) -o $@ $< \
		$$(PKG_CONFIG_PATH=$(OUT) pkg-config --cflags --libs libqb) -Wl,-rpath,$(abspath $(OUT))

demo: $(EXAMPLES)
	@set -e; for e in $(EXAMPLES); do echo "== $$e"; $$e; done

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/qb
	install -m 0755 $(OUT)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libqb.so
	install -m 0644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/qb/
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(QB_BLACKBOX) $(DESTDIR)$(BINDIR)/qb-blackbox
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    pkgconfig/libqb.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libqb.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libqb.so $(DESTDIR)$(LIBDIR)/pkgconfig/libqb.pc \
	      $(DESTDIR)$(BINDIR)/qb-blackbox
	rm -rf $(DESTDIR)$(INCLUDEDIR)/qb

clean:
	$(CARGO) clean
