# syncd — build, test, demo, benchmark.  Every library comes through pkg-config.

PREFIX   ?= /usr/local
CC       ?= cc
PKGS     := libpq jansson inih libcrypto ldap lber libmicrohttpd libcurl libsystemd libqrencode zlib
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
XCFLAGS  := -std=gnu11 -D_GNU_SOURCE -pthread -I. -ffunction-sections -fdata-sections $(WARN)
B        := build

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

# One static library per folder; each program links the libraries it calls,
# and --gc-sections drops every function it never reaches (syncctl holds no
# api_start, stream_run, snapshot_run or audit_append: make lint checks).
COMMON_SRC     := $(sort $(wildcard common/*.c))
CONNECTORS_SRC := $(sort $(wildcard connectors/*.c))
AUTHZ_SRC      := $(sort $(wildcard authz/*.c))
DAEMON_SRC     := $(filter-out syncd/main.c,$(sort $(wildcard syncd/*.c)))
SYNC_SRC       := $(sort $(wildcard syncd/sync/*.c))
API_SRC        := $(sort $(wildcard syncd/api/*.c))
DOCUMENTS_SRC  := $(sort $(wildcard syncd/documents/*.c))
CTL_SRC        := $(filter-out syncd/ctl/syncctl.c,$(sort $(wildcard syncd/ctl/*.c)))
LIB_SRC        := $(COMMON_SRC) $(CONNECTORS_SRC) $(AUTHZ_SRC) $(DAEMON_SRC) $(SYNC_SRC) $(API_SRC) \
                  $(DOCUMENTS_SRC) $(CTL_SRC)
HEADERS        := $(wildcard common/*.h connectors/*.h authz/*.h syncd/*.h syncd/*/*.h)
FOLDERS        := common connectors authz daemon sync api documents ctl

# the state schema (dist/sql/state/NNN_name.sql, applied by common/schema.c)
# built in as C strings, one per file, in order
SCHEMA_SQL := $(sort $(wildcard dist/sql/state/*.sql))
GEN_SRC    := $(B)/gen/state_schema.c

# the web page (syncd/api/web/, every file but hidden ones) built in as one
# table {path, content_type, data, len} that syncd/api/static.c serves
WEB_FILES := $(sort $(shell find syncd/api/web -type f ! -name '.*' 2>/dev/null))
WEB_GEN   := $(B)/gen/web_assets.c

lib_of = $(B)/lib/lib$(1).a
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o) $(GEN_SRC:%.c=$(B)/obj/%.o) $(WEB_GEN:%.c=$(B)/obj/%.o)
ALL_SRC  := $(LIB_SRC) syncd/main.c syncd/ctl/syncctl.c
SYNCD_LIBS   := $(foreach f,api documents sync daemon authz connectors common,$(call lib_of,$(f)))
SYNCCTL_LIBS := $(foreach f,ctl sync daemon authz connectors common,$(call lib_of,$(f)))
LINK_GC      := -Wl,--gc-sections -Wl,--as-needed

# unit tests: tests/unit/test_X.c, linked with every module (no servers)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ASAN_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/asan/%)
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all deps check unit asan integration demo bench bench-scale lint clean fuzz soak install check-asan check-valgrind
all: $(B)/syncd $(B)/syncctl $(B)/freeport $(B)/notify_listen $(B)/idle_sockets $(B)/http_send_cli

deps:
	@scripts/deps.sh build

$(B)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(GEN_SRC): $(SCHEMA_SQL) Makefile
	@mkdir -p $(dir $@)
	awk 'BEGIN { print "/* generated from dist/sql/state by the Makefile; do not edit */"; \
		print "#include \"common/schema.h\""; print "const struct schema_file schema_files[] = {" } \
		FNR == 1 { n = FILENAME; sub(/.*\//, "", n); printf "%s{\"%s\",\n", (NR > 1 ? "\"\"},\n" : ""), n } \
		{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "\"%s\\n\"\n", $$0 } \
		END { print "\"\"}};"; print "const size_t schema_nfiles = sizeof(schema_files) / sizeof(schema_files[0]);" }' \
		$(SCHEMA_SQL) >$@

$(WEB_GEN): $(WEB_FILES) Makefile
	@mkdir -p $(dir $@)
	{ echo '/* generated from syncd/api/web by the Makefile; do not edit */'; \
	  echo '#include "syncd/api/internal.h"'; n=0; \
	  for f in $(WEB_FILES); do \
	    echo "static const unsigned char web_$$n[] = {"; \
	    od -An -v -tu1 "$$f" | awk '{ for (i = 1; i <= NF; i++) printf "%s,", $$i; print "" }'; \
	    echo '0};'; n=$$((n + 1)); \
	  done; \
	  echo 'const struct web_asset web_assets[] = {'; n=0; \
	  for f in $(WEB_FILES); do \
	    case "$$f" in \
	      *.html) t='text/html; charset=utf-8';; *.js) t='text/javascript; charset=utf-8';; \
	      *.css) t='text/css; charset=utf-8';; *.json) t='application/json';; \
	      *.svg) t='image/svg+xml';; *.png) t='image/png';; *.ico) t='image/x-icon';; \
	      *) echo "$$f: no content type for this extension (.html .js .css .json .svg .png .ico)" >&2; exit 1;; \
	    esac; \
	    echo "{\"$${f#syncd/api/web/}\", \"$$t\", web_$$n, sizeof(web_$$n) - 1},"; n=$$((n + 1)); \
	  done; \
	  echo '{0}};'; \
	  echo 'const size_t web_nassets = sizeof(web_assets) / sizeof(web_assets[0]) - 1;'; } >$@.tmp
	mv $@.tmp $@

$(B)/lib/libcommon.a:     $(COMMON_SRC:%.c=$(B)/obj/%.o) $(GEN_SRC:%.c=$(B)/obj/%.o)
$(B)/lib/libconnectors.a: $(CONNECTORS_SRC:%.c=$(B)/obj/%.o)
$(B)/lib/libauthz.a:      $(AUTHZ_SRC:%.c=$(B)/obj/%.o)
$(B)/lib/libdaemon.a:     $(DAEMON_SRC:%.c=$(B)/obj/%.o)
$(B)/lib/libsync.a:       $(SYNC_SRC:%.c=$(B)/obj/%.o)
$(B)/lib/libapi.a:        $(API_SRC:%.c=$(B)/obj/%.o) $(WEB_GEN:%.c=$(B)/obj/%.o)
$(B)/lib/libdocuments.a:  $(DOCUMENTS_SRC:%.c=$(B)/obj/%.o)
$(B)/lib/libctl.a:        $(CTL_SRC:%.c=$(B)/obj/%.o)
$(B)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(B)/syncd: $(B)/obj/syncd/main.o $(SYNCD_LIBS)
	$(CC) $(XCFLAGS) $(CFLAGS) $(LINK_GC) -o $@ $< -Wl,--start-group $(SYNCD_LIBS) -Wl,--end-group $(PKG_LIBS)

$(B)/syncctl: $(B)/obj/syncd/ctl/syncctl.o $(SYNCCTL_LIBS)
	$(CC) $(XCFLAGS) $(CFLAGS) $(LINK_GC) -o $@ $< -Wl,--start-group $(SYNCCTL_LIBS) -Wl,--end-group $(PKG_LIBS)

$(B)/notify_listen: tests/harness/notify_listen.c
	@mkdir -p $(B)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $<

$(B)/idle_sockets: tests/harness/idle_sockets.c
	@mkdir -p $(B)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $<

$(B)/http_send_cli: tests/harness/http_send_cli.c $(call lib_of,connectors) $(call lib_of,common)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) $(LINK_GC) -o $@ $< $(call lib_of,connectors) $(call lib_of,common) $(PKG_LIBS)

$(B)/freeport: tests/harness/freeport.c
	@mkdir -p $(B)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $<

# the modules are compiled once per flavour, then linked into every test
ASAN_OBJ := $(LIB_SRC:%.c=$(B)/asan-obj/%.o) $(GEN_SRC:%.c=$(B)/asan-obj/%.o) $(WEB_GEN:%.c=$(B)/asan-obj/%.o)

$(B)/asan-obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(ASAN_FLAGS) $(PKG_CFLAGS) -c $< -o $@

$(B)/tests/%: tests/unit/%.c $(LIB_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJ) $(PKG_LIBS) $(CMOCKA_LIBS)

$(B)/asan/%: tests/unit/%.c $(ASAN_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(ASAN_FLAGS) $(PKG_CFLAGS) -o $@ $< $(ASAN_OBJ) $(PKG_LIBS) $(CMOCKA_LIBS)

# make check: unit tests, the same under ASan+UBSan, then the integration
# tests against real PostgreSQL and slapd; one closing "N passed, N failed".
check:
	@scripts/deps.sh check
	@$(MAKE) --no-print-directory all $(B)/bench_authz $(B)/bench_apply $(B)/bench_issue $(B)/http_sink $(B)/http_loop $(UNIT_BIN) $(ASAN_BIN) $(FUZZ_REPLAY)
	@tests/run.sh $(UNIT_BIN) -- $(ASAN_BIN) $(FUZZ_REPLAY) -- $(sort $(wildcard tests/integration/test_*.sh)) $(sort $(wildcard tests/faults/test_*.sh))

unit: $(UNIT_BIN)
	@tests/run.sh $(UNIT_BIN)

integration: all
	@tests/run.sh -- -- $(sort $(wildcard tests/integration/test_*.sh))

# make check-asan: the integration tests with syncd, syncctl and the harness
# programs built with ASan+UBSan in $(ASAN_B) (tests/harness/lib.sh's
# SYNCD_BUILD knob); every report a process writes (leaks on clean exits
# included) fails its test.  ASAN_TESTS picks the scripts.
# make check-valgrind: every unit test under valgrind, no error and no
# definite or indirect leak.  Neither is part of make check (its budget).
ASAN_B     := $(B)/asan-bin
ASAN_TESTS ?= $(sort $(wildcard tests/integration/test_*.sh))
check-asan:
	@scripts/deps.sh check
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory B=$(ASAN_B) CFLAGS="$(ASAN_FLAGS)" all
	@tests/sanitize.sh asan $(ASAN_B) $(ASAN_TESTS)

check-valgrind: $(UNIT_BIN)
	@tests/sanitize.sh valgrind $(UNIT_BIN)

# make demo: the scripted story (scripts/demo.sh); in a terminal the web page
# then stays up, with a login for each persona printed, until Ctrl-C.
demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all $(B)/bench_authz $(B)/bench_apply $(B)/bench_issue $(B)/http_sink $(B)/http_loop
	@bench/snapshot.sh
	@bench/apply.sh
	@bench/stream_runs.sh
	@bench/authz.sh
	@bench/documents.sh
	@bench/http.sh

# make bench-scale: how syncd grows with the units (bench/scale.sh): the real
# 103 units against 1,000 synthetic ones, the same rows; not part of check.
bench-scale:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@SYNCD=$(abspath $(B))/syncd bench/scale.sh

$(B)/bench_issue: bench/bench_issue.c
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/bench_authz: bench/bench_authz.c $(LIB_OBJ)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/bench_apply: bench/bench_apply.c $(LIB_OBJ)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

# the HTTP target's bench (bench/http.sh): the receiver and the plain libcurl loop
$(B)/http_sink: bench/http_sink.c
	@mkdir -p $(B)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/http_loop: bench/http_loop.c
	@mkdir -p $(B)
	$(CC) $(XCFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

# the long forms: 200 kill -9 of the continuous daemon under load; the
# fault tests long (FAULTS_LONG=1: a 2-minute unit outage, 100 tier
# restarts, a 1-minute partition, ...); then SOAK_SECONDS (default 1800) of
# mixed load on an active/standby pair — streaming, issuance, grants and
# revocations, a failover every 10 minutes — ending with oracle equality,
# audit verify and RSS growth after warm-up < 10%
soak: all $(B)/bench_issue
	@KILLS=$${KILLS:-200} tests/run.sh -- -- tests/integration/test_stream_crash.sh
	@FAULTS_LONG=1 tests/run.sh -- -- $(sort $(wildcard tests/faults/test_*.sh))
	@SOAK_SECONDS=$${SOAK_SECONDS:-1800} KILLS=$${FAILOVER_KILLS:-20} tests/run.sh -- -- tests/integration/test_failover.sh

# make fuzz [FUZZ_SECONDS=60]: one libFuzzer target (clang, ASan+UBSan) per
# parser of outside input, tests/fuzz/fuzz_X.c, each run FUZZ_SECONDS (or the
# older FUZZ_TIME) from its seeds tests/fuzz/corpus/X and the crashes fixed
# before (tests/fuzz/crashes/X); new inputs go to
# $(B)/fuzz/corpus/X, a crash to tests/fuzz/crashes/X/ (commit it, minimized,
# with the fix).  make check replays every seed and crash file with gcc
# (tests/fuzz/replay.c, the asan flavour): $(B)/asan/replay_X.
FUZZ_TARGETS := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(B)/asan/replay_%)
FUZZ_SECONDS ?= $(or $(FUZZ_TIME),60)
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJ     := $(LIB_SRC:%.c=$(B)/fuzz-obj/%.o) $(GEN_SRC:%.c=$(B)/fuzz-obj/%.o) $(WEB_GEN:%.c=$(B)/fuzz-obj/%.o)

# kept: objects made through a pattern rule would be deleted after each link
.SECONDARY: $(FUZZ_OBJ) $(ASAN_OBJ)
$(B)/fuzz-obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(XCFLAGS) -Wno-error $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c $< -o $@

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(XCFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS)

$(B)/asan/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_util.h $(ASAN_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(ASAN_FLAGS) $(PKG_CFLAGS) -DFUZZ_TARGET='"$*"' -o $@ $< tests/fuzz/replay.c $(ASAN_OBJ) $(PKG_LIBS)

fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@fail=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(B)/fuzz/corpus/$$t tests/fuzz/crashes/$$t; \
		$(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=25 -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crashes/$$t/ $(B)/fuzz/corpus/$$t tests/fuzz/corpus/$$t tests/fuzz/crashes/$$t \
			>$(B)/fuzz/$$t.log 2>&1; rc=$$?; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(B)/fuzz/$$t.log | tail -1); \
		secs=$$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' $(B)/fuzz/$$t.log | tail -1); \
		if [ $$rc -eq 0 ]; then res=ok; else res="CRASH (exit $$rc): see $(B)/fuzz/$$t.log and tests/fuzz/crashes/$$t/"; fail=1; fi; \
		printf 'fuzz_%-12s %10s executions  %5s s  %s\n' $$t "$${execs:-?}" "$${secs:-?}" "$$res"; \
		rmdir tests/fuzz/crashes/$$t 2>/dev/null; \
	done; exit $$fail

# make install [PREFIX=/usr/local] [DESTDIR=...]: programs, systemd unit,
# sysusers/tmpfiles, man pages, an example /etc/syncd/syncd.conf (0640, kept
# if present) with the policies, the LDAP schema and the SQL for DBAs.
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share/syncd
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DATADIR)/ldap \
		$(DESTDIR)$(DATADIR)/sql
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/syncd
	install -m 0755 $(B)/syncd $(B)/syncctl $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' dist/systemd/syncd.service.in >$(DESTDIR)$(UNITDIR)/syncd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/syncd.service
	install -m 0644 dist/sysusers.d/syncd.conf $(DESTDIR)$(SYSUSERSDIR)/syncd.conf
	install -m 0644 dist/tmpfiles.d/syncd.conf $(DESTDIR)$(TMPFILESDIR)/syncd.conf
	install -m 0644 docs/man/syncctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/man/syncd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/syncd.8 $(DESTDIR)$(MANDIR)/man8/
	test -e $(DESTDIR)$(SYSCONFDIR)/syncd/syncd.conf || \
		install -m 0640 dist/syncd.conf.example $(DESTDIR)$(SYSCONFDIR)/syncd/syncd.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/syncd/policies || cp -r policies $(DESTDIR)$(SYSCONFDIR)/syncd/policies
	install -m 0644 policies/ldap/* $(DESTDIR)$(DATADIR)/ldap/
	install -m 0644 dist/sql/*.sql $(DESTDIR)$(DATADIR)/sql/

lint:
	@scripts/deps.sh lint
	clang-format --dry-run --Werror $(ALL_SRC) $(HEADERS) $(UNIT_SRC) tests/harness/freeport.c tests/harness/notify_listen.c tests/harness/idle_sockets.c tests/harness/http_send_cli.c \
		$(wildcard tests/fuzz/*.c) $(wildcard bench/*.c)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
		--suppress=missingIncludeSystem -D_GNU_SOURCE $(ALL_SRC)
	$(MAKE) --no-print-directory clean all CFLAGS="-O2 -g"
	scripts/lint-rules.sh

clean:
	rm -rf $(B)
