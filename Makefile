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
LIBS     := -ljansson -lcrypto

CORE_SRC := $(wildcard src/ce_*.c)
GLUE_SRC := mod_ceinstances.c $(wildcard src/mod_ce_*.c)
UNIT_SRC := $(wildcard t/unit/test_*.c)
CORE_OBJ := $(patsubst src/%.c,$(OBJ)/%.o,$(CORE_SRC))
GLUE_OBJ := $(patsubst %.c,$(OBJ)/%.o,$(notdir $(GLUE_SRC)))
UNIT_BIN := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

MODULE   := $(BUILD)/mod_ceinstances.so
CEADMIN  := $(BUILD)/ceadmin
CELOAD   := $(BUILD)/ceload

.PHONY: all deps build unit test test-apache run bench clean format
all: $(MODULE) $(CEADMIN) $(CELOAD)

# The core must build without httpd headers: it gets APR's include path only.
$(OBJ)/ce_%.o: src/ce_%.c | $(OBJ)
	$(CC) $(CFLAGS) $(APR_INC) -Isrc -c $< -o $@
$(OBJ)/ceadmin.o: src/ceadmin.c | $(OBJ)
	$(CC) $(CFLAGS) $(APR_INC) -Isrc -c $< -o $@
$(OBJ)/mod_%.o: src/mod_%.c | $(OBJ)
	$(CC) $(CFLAGS) $(APR_INC) $(HTTPD_INC) -Isrc -c $< -o $@
$(OBJ)/mod_ceinstances.o: mod_ceinstances.c | $(OBJ)
	$(CC) $(CFLAGS) $(APR_INC) $(HTTPD_INC) -Isrc -c $< -o $@

# apr/apr-util symbols come from httpd itself at load time.
$(MODULE): $(CORE_OBJ) $(GLUE_OBJ)
	$(CC) -shared -pthread -o $@ $^ $(LIBS)
$(CEADMIN): $(OBJ)/ceadmin.o $(CORE_OBJ)
	$(CC) -pthread -o $@ $^ $(APR_LIBS) $(LIBS)

# The load generator (t/tools): libcurl's multi interface and jansson only.
$(OBJ)/ceload.o: t/tools/ceload.c | $(OBJ)
	$(CC) $(CFLAGS) -c $< -o $@
$(CELOAD): $(OBJ)/ceload.o
	$(CC) -o $@ $^ $(CURL_LIBS) -ljansson -lm

$(BUILD)/unit/%: t/unit/%.c t/unit/unit.h $(CORE_OBJ) | $(BUILD)/unit
	$(CC) $(CFLAGS) $(APR_INC) -Isrc -It/unit -o $@ $< $(CORE_OBJ) $(APR_LIBS) $(LIBS) $(CHECK_LIBS)

$(OBJ) $(BUILD)/unit:
	mkdir -p $@

# Each unit suite runs in its own process; any failure fails the target.
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

# Missing Debian packages (apt-get update at most once, only if needed).
deps:
	scripts/deps.sh

# deps first, in its own step: the compile flags above ask apxs/apr-1-config,
# which exist only once the packages are installed.
test: deps
	$(MAKE) all unit
	scripts/test.sh

# The Apache::Test suite alone, against what is built (scripts/test.sh runs
# it as an unprivileged user when invoked as root and fails without
# "Result: PASS"). Extra t/TEST arguments: make test-apache TEST_ARGS=t/03-create.t
test-apache: all
	scripts/test.sh $(TEST_ARGS)

run: deps
	$(MAKE) all
	scripts/run.sh

# One benchmark run (wrk): module vs a same-size static file; table in build/bench.md.
bench: deps
	$(MAKE) all
	scripts/bench.sh

format:
	clang-format -i mod_ceinstances.c src/*.c src/*.h t/unit/*.c t/unit/*.h

clean:
	rm -rf $(BUILD) t/logs t/conf/httpd.conf t/conf/apache_test_config.pm t/conf/extra.conf t/TEST

-include $(wildcard $(OBJ)/*.d) $(wildcard $(BUILD)/unit/*.d)
