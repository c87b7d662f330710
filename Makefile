# mod_ceinstances: build, run, test, bench.
#
# `make run` and `make test` work on a fresh Debian 12 machine: scripts/deps.sh
# installs what is missing first, then a sub-make builds (the flags below ask
# apxs/apr-1-config, which exist only after that).

BUILD    := build
OBJ      := $(BUILD)/obj
APXS     ?= apxs
CC       ?= gcc

# Evaluated lazily (=), so nothing is asked of apxs before deps are installed.
APR_INC   = $(shell apr-1-config --includes --cppflags) $(shell apu-1-config --includes)
HTTPD_INC = -I$(shell $(APXS) -q INCLUDEDIR)
APR_LIBS  = $(shell apr-1-config --link-ld --libs) $(shell apu-1-config --link-ld --libs)
CHECK_LIBS = $(shell pkg-config --libs check)
CURL_LIBS  = $(shell curl-config --libs)

WARN     := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -fPIC -pthread $(WARN) -MMD -MP
LIBS     := -ljansson -lcrypto -lcurl -lsqlite3

CORE_SRC := $(wildcard src/ce_*.c)
GLUE_SRC := mod_ceinstances.c $(wildcard src/mod_ce_*.c)
UNIT_SRC := $(wildcard t/unit/test_*.c)
CORE_OBJ := $(patsubst src/%.c,$(OBJ)/%.o,$(CORE_SRC))
GLUE_OBJ := $(patsubst %.c,$(OBJ)/%.o,$(notdir $(GLUE_SRC)))
UNIT_BIN := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

MODULE   := $(BUILD)/mod_ceinstances.so
CEADMIN  := $(BUILD)/ceadmin
CELOAD   := $(BUILD)/ceload
REBIND   := $(BUILD)/rebind_preload.so

.PHONY: all deps oauth-deps openapi-deps openapi-lint build unit test test-apache test-asan fuzz fuzz-replay run bench clean format format-check FORCE
.PHONY: install deb
.PHONY: help stop reload test-readme test-run
all: $(MODULE) $(CEADMIN) $(CELOAD) $(REBIND)

# The core must build without httpd headers: it gets APR's include path only.
$(OBJ)/ce_%.o: src/ce_%.c | $(OBJ)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(APR_INC) -Isrc -c $< -o $@
$(OBJ)/ceadmin.o: src/ceadmin.c | $(OBJ)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(APR_INC) -Isrc -c $< -o $@
$(OBJ)/mod_%.o: src/mod_%.c | $(OBJ)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(APR_INC) $(HTTPD_INC) -Isrc -c $< -o $@
$(OBJ)/mod_ceinstances.o: mod_ceinstances.c | $(OBJ)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(APR_INC) $(HTTPD_INC) -Isrc -c $< -o $@

# apr/apr-util symbols come from httpd itself at load time.
$(MODULE): $(CORE_OBJ) $(GLUE_OBJ)
	$(CC) $(LDFLAGS) -shared -pthread -o $@ $^ $(LIBS)
$(CEADMIN): $(OBJ)/ceadmin.o $(CORE_OBJ)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(APR_LIBS) $(LIBS)

# The load generator (t/tools): libcurl's multi interface and jansson only.
$(OBJ)/ceload.o: t/tools/ceload.c | $(OBJ)
	$(CC) $(CFLAGS) -c $< -o $@
$(CELOAD): $(OBJ)/ceload.o
	$(CC) -o $@ $^ $(CURL_LIBS) -ljansson -lm
# Failure injection (t/40-gateway.t): a DNS name that changes its answer.
$(REBIND): t/tools/rebind_preload.c | $(OBJ)
	$(CC) -O2 -g -shared -fPIC $(WARN) -o $@ $< -ldl

$(BUILD)/unit/%: t/unit/%.c t/unit/unit.h t/unit/unit_http.h $(CORE_OBJ) | $(BUILD)/unit
	$(CC) $(CFLAGS) $(APR_INC) -Isrc -It/unit -o $@ $< $(CORE_OBJ) $(APR_LIBS) $(LIBS) $(CHECK_LIBS)

$(OBJ) $(BUILD)/unit:
	mkdir -p $@

# ---- sanitizer builds (each in its own directory, never mixed with the above)
#
# build/asan/: the module and ceadmin with AddressSanitizer + UBSan, for the
# Apache::Test suite run by `make test-asan` (scripts/asan.sh: httpd with the
# matching ASan runtime preloaded, both drivers). clang, whose
# shared ASan runtime carries UBSan too: with gcc, libubsan (a second
# runtime, loaded with the module) writes its reports to stderr and moves
# ASan's log_path to its own. ASAN_CC=gcc works, with that caveat.
ASAN_CC     ?= clang
# clang: link the shared runtime (preloaded into httpd; found by ceadmin
# through its rpath). gcc links its shared libasan by default.
ASAN_RT_DIR  = $(dir $(shell $(ASAN_CC) -print-file-name=libclang_rt.asan-x86_64.so))
ASAN_LDFLAGS = $(if $(findstring clang,$(ASAN_CC)),-shared-libasan -Wl$(comma)-rpath$(comma)$(ASAN_RT_DIR))
comma := ,
ASAN_DIR    := $(BUILD)/asan
ASAN_OBJ    := $(ASAN_DIR)/obj
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -std=gnu11 -fPIC -pthread $(WARN) -MMD -MP
ASAN_CORE_OBJ := $(patsubst src/%.c,$(ASAN_OBJ)/%.o,$(CORE_SRC))
ASAN_GLUE_OBJ := $(patsubst %.c,$(ASAN_OBJ)/%.o,$(notdir $(GLUE_SRC)))
ASAN_MODULE   := $(ASAN_DIR)/mod_ceinstances.so
ASAN_CEADMIN  := $(ASAN_DIR)/ceadmin
ASAN_PRELOAD  := $(ASAN_DIR)/asan_preload.so

# Another ASAN_CC than last time rebuilds everything (runtimes differ).
$(ASAN_DIR)/cc: FORCE | $(ASAN_OBJ)
	@echo '$(ASAN_CC)' | cmp -s - $@ || echo '$(ASAN_CC)' >$@
$(ASAN_OBJ)/ce_%.o: src/ce_%.c $(ASAN_DIR)/cc | $(ASAN_OBJ)
	$(ASAN_CC) $(ASAN_CFLAGS) $(APR_INC) -Isrc -c $< -o $@
$(ASAN_OBJ)/ceadmin.o: src/ceadmin.c $(ASAN_DIR)/cc | $(ASAN_OBJ)
	$(ASAN_CC) $(ASAN_CFLAGS) $(APR_INC) -Isrc -c $< -o $@
$(ASAN_OBJ)/mod_%.o: src/mod_%.c $(ASAN_DIR)/cc | $(ASAN_OBJ)
	$(ASAN_CC) $(ASAN_CFLAGS) $(APR_INC) $(HTTPD_INC) -Isrc -c $< -o $@
$(ASAN_OBJ)/mod_ceinstances.o: mod_ceinstances.c $(ASAN_DIR)/cc | $(ASAN_OBJ)
	$(ASAN_CC) $(ASAN_CFLAGS) $(APR_INC) $(HTTPD_INC) -Isrc -c $< -o $@
$(ASAN_MODULE): $(ASAN_CORE_OBJ) $(ASAN_GLUE_OBJ)
	$(ASAN_CC) -shared -pthread -fsanitize=address,undefined $(ASAN_LDFLAGS) -o $@ $^ $(LIBS)
$(ASAN_CEADMIN): $(ASAN_OBJ)/ceadmin.o $(ASAN_CORE_OBJ)
	$(ASAN_CC) -pthread -fsanitize=address,undefined $(ASAN_LDFLAGS) -o $@ $^ $(APR_LIBS) $(LIBS)
# Preloaded after libasan: APR pool memory as LeakSanitizer roots (see the file).
$(ASAN_PRELOAD): t/tools/asan_preload.c | $(ASAN_OBJ)
	$(CC) -O2 -g -shared -fPIC -pthread $(WARN) -o $@ $< -ldl

# build/fuzz/: libFuzzer targets (t/fuzz/*.c) over the core compiled with
# coverage + ASan + UBSan (clang). `make fuzz` fuzzes each for FUZZ_SECONDS
# (new inputs kept in build/fuzz/corpus/, findings in build/fuzz/artifacts/);
# `make fuzz-replay` runs the committed corpus and regressions once.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_OBJ     := $(FUZZ_DIR)/obj
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -std=gnu11 -pthread $(WARN) -MMD -MP
FUZZ_SRC     := $(wildcard t/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst t/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRC))
FUZZ_CORE_OBJ := $(patsubst src/%.c,$(FUZZ_OBJ)/%.o,$(CORE_SRC))

$(FUZZ_OBJ)/ce_%.o: src/ce_%.c | $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(APR_INC) -Isrc -c $< -o $@
$(FUZZ_BIN): $(FUZZ_DIR)/%: t/fuzz/%.c t/fuzz/fuzz.h $(FUZZ_CORE_OBJ) | $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(APR_INC) -Isrc -It/fuzz -o $@ $< \
	    $(FUZZ_CORE_OBJ) $(APR_LIBS) $(LIBS)

$(ASAN_OBJ) $(FUZZ_OBJ):
	mkdir -p $@

fuzz: $(FUZZ_BIN)
	t/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-replay: $(FUZZ_BIN)
	t/fuzz/run.sh replay 0 $(FUZZ_BIN)

# The Apache::Test suite (both drivers; CE_ASAN_DRIVERS=sqlite3 for one) with
# httpd and ceadmin under ASan/UBSan:
# build/asan/ instead of build/'s module and ceadmin, libasan preloaded into
# every apache2 and ceadmin the suite starts (scripts/asan.sh). Fails on a
# failing test or any sanitizer report. Logs and reports in build/asan-logs/.
# Extra t/TEST arguments: make test-asan TEST_ARGS=t/03-create.t
test-asan: all oauth-deps openapi-deps $(ASAN_MODULE) $(ASAN_CEADMIN) $(ASAN_PRELOAD)
	CE_ASAN_CC=$(ASAN_CC) scripts/asan.sh $(TEST_ARGS)

# Each unit suite runs in its own process; any failure fails the target.
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

# The suite's OAuth 2 server (npm's oidc-provider, pinned by t/oauth's lockfile).
oauth-deps:
	scripts/oauth.sh install

# Missing Debian packages (apt-get update at most once, only if needed).
deps:
	scripts/deps.sh

# deps first, in its own step: the compile flags above ask apxs/apr-1-config,
# which exist only once the packages are installed. Then the fast checks
# (format, unit, fuzz corpus replay, ceadmin as root, the README's API
# examples against a make run server, make run's operator commands), the
# Debian package installed into Debian's apache2 and purged
# (scripts/test-deb.sh, root only), the suite on both drivers, and the
# suite on both drivers under ASan/UBSan.
test: deps
	$(MAKE) format-check all unit fuzz-replay
	scripts/test-ceadmin-root.sh
	scripts/test-readme.sh
	scripts/test-run.sh
	scripts/oauth.sh install
	scripts/test-deb.sh
	scripts/openapi.sh install
	scripts/openapi.sh lint
	scripts/test.sh
	$(MAKE) test-asan

# The Apache::Test suite alone, against what is built (scripts/test.sh runs
# it as an unprivileged user when invoked as root and fails without
# "Result: PASS"). Extra t/TEST arguments: make test-apache TEST_ARGS=t/03-create.t
test-apache: all oauth-deps openapi-deps
	scripts/test.sh $(TEST_ARGS)

run: deps
	$(MAKE) all
	scripts/run.sh

# The `make run` server (its pid file in var/run/, or CE_RUN_DIR's): stop
# ends it; reload is its graceful restart (configuration test first; the
# catalog and build/mod_ceinstances.so are read again). Not apache2ctl:
# that addresses Debian's own apache2.
stop:
	scripts/run.sh stop
reload:
	scripts/run.sh reload

# The README's API examples, in order, against a `make run` server of
# their own (a temporary CE_RUN_DIR, a free port): scripts/test-readme.sh.
test-readme: all
	scripts/test-readme.sh
# make help, make stop, make reload, and make run renewing dead demo
# secrets, on a server of their own: scripts/test-run.sh.
test-run: all
	scripts/test-run.sh

# One benchmark run (wrk): module vs a same-size static file; table in build/bench.md.
bench: deps
	$(MAKE) all
	BENCH_SWEEP=$${BENCH_SWEEP-1} scripts/bench.sh

# ---- install and the Debian package (issue 16)
#
# `make install` puts the module, ceadmin, the catalog, the a2enmod files and
# the man pages where apxs says httpd keeps them (DESTDIR honoured; nothing is
# enabled or started, and no data directory or key is made: see README,
# "Install"). `make deb` builds libapache2-mod-ceinstances (debian/; its
# version is debian/changelog's, which must be src/ce_version.h's CE_VERSION)
# into build/deb/ with dpkg-buildpackage, from a copy of the tree
# (scripts/deb.sh).
prefix      ?= /usr
SBINDIR     ?= $(prefix)/sbin
MANDIR      ?= $(prefix)/share/man
LIBEXECDIR   = $(shell $(APXS) -q LIBEXECDIR)
SYSCONFDIR   = $(shell $(APXS) -q SYSCONFDIR)
STATEDIR    ?= /var/lib/ceinstances
CE_CONFDIR   = $(SYSCONFDIR)/ceinstances
MAN8        := $(wildcard doc/*.8)

install: $(MODULE) $(CEADMIN)
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(CE_CONFDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/mods-available
	install -m 0644 $(MODULE) $(DESTDIR)$(LIBEXECDIR)/mod_ceinstances.so
	install -m 0755 $(CEADMIN) $(DESTDIR)$(SBINDIR)/ceadmin
	install -m 0644 conf/elements.json $(DESTDIR)$(CE_CONFDIR)/elements.json
	sed 's|/usr/lib/apache2/modules|$(LIBEXECDIR)|' conf/ceinstances.load \
	    >$(DESTDIR)$(SYSCONFDIR)/mods-available/ceinstances.load
	sed -e 's|/etc/apache2|$(SYSCONFDIR)|g' -e 's|/var/lib/ceinstances|$(STATEDIR)|g' \
	    conf/ceinstances.conf >$(DESTDIR)$(SYSCONFDIR)/mods-available/ceinstances.conf
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/mods-available/ceinstances.load \
	    $(DESTDIR)$(SYSCONFDIR)/mods-available/ceinstances.conf
	$(if $(MAN8),install -d $(DESTDIR)$(MANDIR)/man8 && install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)

deb:
	scripts/deb.sh

# ---- the OpenAPI document, doc/openapi.json (README: "The OpenAPI document")
# Built into the module: .incbin in src/mod_ce_ep_docs.c reads it.
$(OBJ)/mod_ce_ep_docs.o $(ASAN_OBJ)/mod_ce_ep_docs.o: doc/openapi.json
# Its validators (Redocly's CLI, ajv), pinned by t/openapi's lockfile.
openapi-deps:
	scripts/openapi.sh install
# Part of `make test`: the document linted by Redocly's CLI.
openapi-lint: openapi-deps
	scripts/openapi.sh lint

FORMAT_SRC = mod_ceinstances.c $(wildcard src/*.c src/*.h t/unit/*.c t/unit/*.h t/fuzz/*.c t/fuzz/*.h)

format:
	clang-format -i $(FORMAT_SRC)

# Part of `make test`: the committed .clang-format (httpd style), enforced.
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

# ---- make help: one line per target (## lines; a target without one is
# listed too, as undocumented).
## all: build build/mod_ceinstances.so, build/ceadmin, build/ceload (the default)
## help: this list
## deps: install the Debian packages build and test need (scripts/deps.sh)
## oauth-deps: install the suite's OAuth 2 server (npm, t/oauth)
## run: deps, build, serve the API on 127.0.0.1:${PORT:-8080} in the foreground (var/)
## stop: stop the `make run` server
## reload: graceful restart of the `make run` server (catalog and module read again)
## test: everything: format-check, unit, fuzz-replay, ceadmin as root, README examples, the Debian package, suite on both drivers, ASan suite
## test-apache: the Apache::Test suite alone (TEST_ARGS=t/03-create.t for one file)
## test-asan: the suite with the module and ceadmin under ASan/UBSan (clang)
## test-readme: the README's API examples, in order, against a `make run` server of their own
## test-run: make help, stop, reload, and make run renewing dead demo secrets, on a server of their own
## unit: the C unit tests of the core
## fuzz: each libFuzzer target for FUZZ_SECONDS (default 60)
## fuzz-replay: the committed fuzzing corpus and regressions, once
## install: install the module, ceadmin, the catalog, the a2enmod files and the man page (DESTDIR, apxs paths)
## openapi-deps: install the OpenAPI document's validators (npm, t/openapi)
## openapi-lint: lint doc/openapi.json with Redocly's CLI
## deb: build the Debian package libapache2-mod-ceinstances into build/deb/ (lintian checked)
## bench: one benchmark run (wrk): the module against a static file
## format: clang-format the sources in place
## format-check: fail unless the sources are formatted (.clang-format)
## clean: remove build/ and the suite's generated files
help:
	@awk '/^## [a-z][a-z0-9-]*: / { n = substr($$2, 1, length($$2) - 1); \
	         d[n] = substr($$0, length($$2) + 5); o[++k] = n; next } \
	     /^[a-z][a-z0-9-]*:([^=]|$$)/ { t[++m] = substr($$0, 1, index($$0, ":") - 1) } \
	     END { for (i = 1; i <= k; i++) printf "make %-12s %s\n", o[i], d[o[i]]; \
	           for (i = 1; i <= m; i++) if (!(t[i] in d)) { d[t[i]] = ""; \
	               printf "make %-12s (undocumented)\n", t[i] } }' \
	    $(firstword $(MAKEFILE_LIST))

clean:
	rm -rf $(BUILD) t/logs t/conf/httpd.conf t/conf/apache_test_config.pm t/conf/extra.conf t/TEST

-include $(wildcard $(OBJ)/*.d) $(wildcard $(BUILD)/unit/*.d) $(wildcard $(ASAN_OBJ)/*.d) \
         $(wildcard $(FUZZ_OBJ)/*.d) $(wildcard $(FUZZ_DIR)/*.d)
