# event_streaming — PGXS build.
#
#   make                       build
#   make install               install into the server named by PG_CONFIG
#   make ENABLE_ASSERTS=1      build with assertions (-DUSE_ASSERT_CHECKING) and -O0 -g
#   make demo                  build, install, start a throwaway cluster and walk through the API
#   make demo-stop             stop the demo cluster
#   make test                  build, install and run every test suite on throwaway clusters
#   make test PG=17            the same against Debian's PostgreSQL 17 (or PG=18), in a
#                              Debian root made on first use (scripts/pgroot.sh)
#   make ES_SANITIZE=1         build with AddressSanitizer and UBSan (for scripts/sanitize.sh)
#   make check-19              build (not run) against PostgreSQL 19 from Debian experimental
#   make test-sanitize         the whole suite against an ASan+UBSan build in a private server copy
#   make bench-sqlsmith        a bounded sqlsmith run against the extension's functions
#   make bench-chaos           the chaos test (test/t/014_chaos.pl) for 50 SIGKILL cycles; PASS or FAIL
#   make dist                  event_streaming-<version>.zip for PGXN: git archive of HEAD (scripts/dist.sh)

EXTENSION   = event_streaming
MODULE_big  = event_streaming
OBJS        = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA        = $(wildcard sql/$(EXTENSION)--*.sql)
PGFILEDESC  = "event_streaming - event store and message queue"

PG_CONFIG  ?= pg_config

PG_CFLAGS  += -Wall -Wextra -Werror -Wno-unused-parameter
ifdef ENABLE_ASSERTS
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING
PG_CFLAGS   += -O0 -g
endif
ifdef ES_SANITIZE
PG_CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer
SHLIB_LINK  += -fsanitize=address,undefined
endif

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
all install:
	@echo "$(PG_CONFIG) not found: run scripts/deps.sh (or make demo / make test), which installs what is missing" >&2; exit 1
endif

.PHONY: dist demo demo-stop test check-19 test-sanitize bench bench-queue bench-retention bench-ordering bench-soak bench-evolution bench-sqlsmith bench-chaos
dist:
	scripts/dist.sh

demo:
	scripts/demo.sh

demo-stop:
	scripts/cluster.sh stop .cluster

test:
	scripts/test.sh

check-19:
	scripts/compile_check.sh

test-sanitize:
	scripts/sanitize.sh

bench:
	bench/run.sh

bench-queue:
	bench/queue.sh

bench-retention:
	bench/retention.sh

bench-ordering:
	bench/ordering.sh

bench-evolution:
	bench/evolution.sh

bench-soak:
	bench/soak.sh

bench-chaos:
	bench/chaos.sh

bench-sqlsmith:
	bench/sqlsmith.sh
