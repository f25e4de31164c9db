# event_streaming — PGXS build.
#
#   make                       build
#   make install               install into the server named by PG_CONFIG
#   make ENABLE_ASSERTS=1      build with assertions (-DUSE_ASSERT_CHECKING) and -O0 -g
#   make demo                  build, install, start a throwaway cluster and walk through the API
#   make test                  build, install and run every test suite on throwaway clusters

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

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: demo test bench
demo:
	scripts/demo.sh

test:
	scripts/test.sh

bench:
	bench/run.sh
