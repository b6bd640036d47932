# tenderd build. `make` builds, `make test` runs every test, `make run` starts a
# development platform, `make asan` runs the tests under ASan+UBSan, `make bench`
# measures. Objects go to $(BUILD) (build/ by default).

BUILD    ?= build
CC       ?= cc
PKGS     := libevent_openssl libevent jansson libpq openssl
# Installed layout: `make install` puts the migrations in $(SQLDIR), the default of the
# sql_dir setting. `make run` and the tests pass the source tree's sql/ explicitly.
PREFIX   ?= /usr/local
SQLDIR   ?= $(PREFIX)/share/tenderd/sql
CPPFLAGS += -I. -D_GNU_SOURCE -DTENDERD_SQL_DIR=\"$(SQLDIR)\"
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -fno-strict-aliasing
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
PYTHON   ?= /usr/bin/python3

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunistring
PG_INC     = $(shell pg_config --includedir 2>/dev/null)

COMMON_SRC  := $(wildcard common/*.c)
AUCTION_SRC := $(wildcard auction/*.c)
SERVER_SRC  := $(wildcard server/*.c)
CLIENT_SRC  := $(wildcard client/*.c)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/%.o)
AUCTION_OBJ := $(AUCTION_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ  := $(SERVER_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ  := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit integration asan run stop-db bench clean install uninstall
all: $(BUILD)/tenderd $(BUILD)/tenderctl $(UNIT_BIN)

# Install missing Debian build and test dependencies (only when root; otherwise
# print what is missing).
deps:
	@scripts/deps.sh

# config.o holds SQLDIR: rebuilt whenever its value changes
$(BUILD)/server/config.o: $(BUILD)/.sqldir
$(BUILD)/.sqldir: FORCE
	@mkdir -p $(BUILD); echo '$(SQLDIR)' | cmp -s - $@ || echo '$(SQLDIR)' >$@
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -I$(PG_INC) -MMD -MP -c $< -o $@

# The engine is its own library: it links against nothing but libc, so a stray
# dependency on I/O fails the link of its unit tests.
$(BUILD)/libauction.a: $(AUCTION_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libcommon.a: $(COMMON_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/tenderd: $(SERVER_OBJ) $(BUILD)/libauction.a $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -pthread -o $@ $^ $(PKG_LIBS) -lm
$(BUILD)/tenderctl: $(CLIENT_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/test_auction: $(BUILD)/tests/unit/test_auction.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/test_procedure: $(BUILD)/tests/unit/test_procedure.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/test_formats: $(BUILD)/tests/unit/test_formats.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/test_rules: $(BUILD)/tests/unit/test_rules.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/test_clock: $(BUILD)/tests/unit/test_clock.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
# the sealed-bid formats
$(BUILD)/tests/test_sealed: $(BUILD)/tests/unit/test_sealed.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/test_tail: $(BUILD)/tests/unit/test_tail.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/test_rounds: $(BUILD)/tests/unit/test_rounds.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
# proxy bidding
$(BUILD)/tests/test_proxy: $(BUILD)/tests/unit/test_proxy.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
# multi-lot auctions: the staggered-closing rule
$(BUILD)/tests/test_lots: $(BUILD)/tests/unit/test_lots.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
# tenderctl's clock lines alone
$(BUILD)/tests/test_view_clock: $(BUILD)/tests/unit/test_view_clock.o $(BUILD)/client/view.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS) -lm
# protocol decoding alone: its connection and operations are recorders in the test
$(BUILD)/tests/test_proto: $(BUILD)/tests/unit/test_proto.o $(BUILD)/server/proto.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS) -lm
$(BUILD)/tests/test_proto_errors: $(BUILD)/tests/unit/test_proto_errors.o $(BUILD)/server/proto.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS) -lm
# line framing alone: no libevent, no OpenSSL
$(BUILD)/tests/test_frame: $(BUILD)/tests/unit/test_frame.o $(BUILD)/server/frame.o
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/test_config: $(BUILD)/tests/unit/test_config.o $(BUILD)/server/config.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS) -lm
# the tree in memory alone, with OpenSSL
$(BUILD)/tests/test_tlog: $(BUILD)/tests/unit/test_tlog.o $(BUILD)/server/tlog.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS) -lm
# the outage pause: its rule, the engine, tenderctl's line
$(BUILD)/tests/test_outage: $(BUILD)/tests/unit/test_outage.o $(BUILD)/client/view.o $(BUILD)/libauction.a $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS) -lm
$(BUILD)/tests/test_map: $(BUILD)/tests/unit/test_map.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(PKG_LIBS) -lm

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: $(BUILD)/tenderd $(BUILD)/tenderctl $(BUILD)/loadgen
	TENDERD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

test: deps all unit integration

asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(SAN_FLAGS)" test

run: deps all
	@scripts/run.sh

stop-db:
	@scripts/pgctl.sh stop var/pg

bench: deps all
	@scripts/bench.sh

clean:
	rm -rf build build-asan

# ---- installing (docs/operations.md, "Installing as a service") ----
# The man pages, the example configuration and the systemd unit are generated in
# $(BUILD)/dist/ from dist/ and the built binaries (dist/gen.sh): the settings and the
# operations they list are those of `tenderd --list-settings` and `tenderd --list-ops`.
# `make install` never writes to $(SYSCONFDIR): the example configuration goes to $(DOCDIR).
BINDIR          ?= $(PREFIX)/bin
DOCDIR          ?= $(PREFIX)/share/doc/tenderd
MANDIR          ?= $(PREFIX)/share/man
SYSCONFDIR      ?= /etc
SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR     ?= $(PREFIX)/lib/sysusers.d
DIST_MAN := $(BUILD)/dist/tenderd.8 $(BUILD)/dist/tenderd.conf.5 $(BUILD)/dist/tenderctl.1
DIST_OUT := $(DIST_MAN) $(BUILD)/dist/tenderd.conf.example $(BUILD)/dist/tenderd.service
INSTALL_DOCS := README.md $(wildcard docs/*.md)
all: $(DIST_OUT)

# the generated files hold the installation paths: regenerated whenever they change
DIST_PATHS = $(BINDIR):$(SQLDIR):$(SYSCONFDIR):$(DOCDIR)
$(BUILD)/.distpaths: FORCE
	@mkdir -p $(BUILD); echo '$(DIST_PATHS)' | cmp -s - $@ || echo '$(DIST_PATHS)' >$@
$(BUILD)/dist/%: dist/man/%.in dist/gen.sh $(BUILD)/tenderd $(BUILD)/tenderctl $(BUILD)/.distpaths
	@mkdir -p $(dir $@)
	TENDERD=$(BUILD)/tenderd TENDERCTL=$(BUILD)/tenderctl BINDIR=$(BINDIR) SQLDIR=$(SQLDIR) \
	    SYSCONFDIR=$(SYSCONFDIR) DOCDIR=$(DOCDIR) dist/gen.sh $< $@
$(BUILD)/dist/%: dist/%.in dist/gen.sh $(BUILD)/tenderd $(BUILD)/tenderctl $(BUILD)/.distpaths
	@mkdir -p $(dir $@)
	TENDERD=$(BUILD)/tenderd TENDERCTL=$(BUILD)/tenderctl BINDIR=$(BINDIR) SQLDIR=$(SQLDIR) \
	    SYSCONFDIR=$(SYSCONFDIR) DOCDIR=$(DOCDIR) dist/gen.sh $< $@

# tenderd and tenderctl in $(BINDIR), the migrations and the role bootstrap (sql/roles.sql)
# in $(SQLDIR), the man pages in $(MANDIR), the unit in $(SYSTEMD_UNITDIR), the service's
# user in $(SYSUSERSDIR), the example configuration and the documentation in $(DOCDIR);
# everything under $(DESTDIR) when it is set.
install: $(BUILD)/tenderd $(BUILD)/tenderctl $(DIST_OUT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SQLDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/tenderd $(BUILD)/tenderctl $(DESTDIR)$(BINDIR)/
	install -m 0644 sql/*.sql $(DESTDIR)$(SQLDIR)/
	install -m 0644 $(BUILD)/dist/tenderctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/dist/tenderd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/dist/tenderd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(BUILD)/dist/tenderd.service $(DESTDIR)$(SYSTEMD_UNITDIR)/
	install -m 0644 dist/tenderd.sysusers $(DESTDIR)$(SYSUSERSDIR)/tenderd.conf
	install -m 0644 $(BUILD)/dist/tenderd.conf.example $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/

# Every file `make install` puts, and tenderd's own directories once empty.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tenderd $(DESTDIR)$(BINDIR)/tenderctl \
	    $(addprefix $(DESTDIR)$(SQLDIR)/,$(notdir $(wildcard sql/*.sql))) \
	    $(DESTDIR)$(MANDIR)/man1/tenderctl.1 $(DESTDIR)$(MANDIR)/man5/tenderd.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/tenderd.8 $(DESTDIR)$(SYSTEMD_UNITDIR)/tenderd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/tenderd.conf $(DESTDIR)$(DOCDIR)/tenderd.conf.example \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS)))
	rmdir $(DESTDIR)$(SQLDIR) $(DESTDIR)$(dir $(SQLDIR)) $(DESTDIR)$(DOCDIR) 2>/dev/null || true

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- load generator (bench/; used by `make bench`, see docs/benchmarks.md) ----
BENCH_SRC := $(filter-out bench/engine.c,$(wildcard bench/*.c))
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/%.o)
all: $(BUILD)/loadgen $(BUILD)/engine-bench
bench: export BENCH_BUILD = $(abspath $(BUILD))
$(BUILD)/loadgen: $(BENCH_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm
# the engine micro-benchmark: the engine alone, no I/O
$(BUILD)/engine-bench: $(BUILD)/bench/engine.o $(BUILD)/libauction.a
	$(CC) $(CFLAGS) -o $@ $^

# ---- fuzzing (fuzz/; see docs/fuzzing.md) ----
# libFuzzer targets built with clang under ASan+UBSan in $(FUZZ_BUILD); each links only the
# module it tests. `make fuzz` fuzzes each target for FUZZ_TIME seconds; `make fuzz-regress`
# (part of `make test`) replays the seed and regression inputs and runs a short,
# fixed-seed burst.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_CFLAGS  ?= -O1 -g
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
                -Wno-unused-parameter -fno-strict-aliasing
FUZZ_TARGETS := frame proto auction formats procedure
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_LINK     = $(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

.PHONY: fuzz fuzz-build fuzz-regress fuzz-clean test-fuzz
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	    $(shell pkg-config --cflags jansson 2>/dev/null) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/libauction.a: $(AUCTION_SRC:%.c=$(FUZZ_BUILD)/%.o)
	@rm -f $@; ar rcs $@ $^
$(FUZZ_BUILD)/libcommon.a: $(COMMON_SRC:%.c=$(FUZZ_BUILD)/%.o)
	@rm -f $@; ar rcs $@ $^
# framing alone; decoding with libcommon and jansson; each engine with libauction alone
$(FUZZ_BUILD)/fuzz_frame: $(FUZZ_BUILD)/fuzz/fuzz_frame.o $(FUZZ_BUILD)/server/frame.o
	$(FUZZ_LINK)
$(FUZZ_BUILD)/fuzz_proto: $(FUZZ_BUILD)/fuzz/fuzz_proto.o $(FUZZ_BUILD)/server/proto.o \
    $(FUZZ_BUILD)/libcommon.a
	$(FUZZ_LINK) $(shell pkg-config --libs jansson 2>/dev/null) -lunistring -lm
$(FUZZ_BUILD)/fuzz_auction: $(FUZZ_BUILD)/fuzz/fuzz_auction.o $(FUZZ_BUILD)/libauction.a
	$(FUZZ_LINK)
$(FUZZ_BUILD)/fuzz_formats: $(FUZZ_BUILD)/fuzz/fuzz_formats.o $(FUZZ_BUILD)/libauction.a
	$(FUZZ_LINK)
$(FUZZ_BUILD)/fuzz_procedure: $(FUZZ_BUILD)/fuzz/fuzz_procedure.o $(FUZZ_BUILD)/libauction.a
	$(FUZZ_LINK)

fuzz-build: $(FUZZ_BIN)
fuzz: deps fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh run
fuzz-regress: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh regress
# in make test after the integration tests, even with -j: they are timing-sensitive
test: test-fuzz
test-fuzz: integration
	@$(MAKE) --no-print-directory fuzz-regress
fuzz-clean:
	rm -rf $(FUZZ_BUILD)
clean: fuzz-clean

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
