#!/usr/bin/env bash
# make demo: build, install, start a throwaway cluster in .cluster/ and walk
# through the API (scripts/demo.sql).  The cluster keeps running afterwards;
# `make demo-stop` stops it.
# Env: ES_DEMO_PORT (default 54329), PG_CONFIG, ENABLE_ASSERTS.
source "$(dirname "$0")/lib.sh"
cd "$ES_REPO"

"$ES_SCRIPTS/deps.sh"
"$ES_SCRIPTS/install.sh"
es_pg_paths
port=${ES_DEMO_PORT:-54329}
dir=$ES_REPO/.cluster
sock=$(es_socket_dir "$dir")

# The demo runs with default settings: no extra conf from the environment.
ES_EXTRA_CONF='' "$ES_SCRIPTS/cluster.sh" start "$dir" "$port"
trap 'printf "\nThe demo cluster is running (log: %s/log).\n  connect: psql -h %s -p %s -U postgres postgres\n  stop:    make demo-stop\n" "$dir" "$sock" "$port"' EXIT

psql=("$PG_BINDIR/psql" -X -q -h "$sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
"${psql[@]}" -c 'CREATE EXTENSION event_streaming'
# demo.sql turns ON_ERROR_STOP off around its deliberate conflict.
"${psql[@]}" --echo-queries -f scripts/demo.sql 2>&1
