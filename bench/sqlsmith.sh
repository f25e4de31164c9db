#!/usr/bin/env bash
# bench/sqlsmith.sh (make bench-sqlsmith) -- a bounded fuzz run against the
# extension: no backend may crash, and no call of an es function may fail
# with an internal error (XX000).
#
#   make install && make bench-sqlsmith          (or: bench/sqlsmith.sh)
#   SQLSMITH_QUERIES=2000 ES_FUZZ_CALLS=5 bench/sqlsmith.sh       (quick check)
#   PG_CONFIG=tmp_check/sanitize/root/usr/lib/postgresql/15/bin/pg_config \
#     bench/sqlsmith.sh      (against the ASan+UBSan build of make test-sanitize)
#
# Starts two throwaway clusters with scripts/cluster.sh: the target in
# bench/out/sqlsmith/target (port SQLSMITH_PORT, default 54375, the library
# preloaded, its worker serving the database "fuzz") and one for sqlsmith's
# error log (port + 1; a crash of the target does not cut the logger off).
# In "fuzz": CREATE EXTENSION and some of everything -- streams in three
# categories, a batch, a queue with waiting, delayed, in-flight and grouped
# messages and a dead letter, subscriptions (one a consumer group), a
# projection with its table, an upcaster, a captured table, a data
# migration, stream/category/queue settings.  Then two phases:
#
#   1. sqlsmith (Debian package sqlsmith, installed if missing) --seed
#      SQLSMITH_SEED (default 1) --max-queries SQLSMITH_QUERIES (default
#      20000), at most SQLSMITH_SECONDS (default 1800) of wall time, as the
#      superuser.  It draws random queries over every table and every
#      function in the catalog (es's among them; each query runs in a
#      transaction that is rolled back) and logs each error with its query
#      and SQLSTATE.  sqlsmith only calls functions that return one value,
#      so it never calls es's set-returning functions, and rarely the others.
#   2. Targeted: every function and procedure of schema es, ES_FUZZ_CALLS
#      times each (default 40), with arguments drawn at random (seeded) from
#      pools of edge values of their types -- NULL, empty, too long, control
#      characters, extreme numbers, negative and huge intervals, malformed
#      JSON batches, ids and receipts that exist and that do not -- one
#      autocommit statement each, statement_timeout 1 s.
#
# Afterwards the target's server log is searched for crashes ("terminated by
# signal", a backend exiting with a non-zero code, "was terminated by
# exception", PANIC, TRAP) and the failed-process query it names; errors are
# counted by SQLSTATE class, and every XX000 is listed with its query and
# where it was raised (log_error_verbosity = verbose).  Summary in
# bench/out/sqlsmith/summary.txt.  PASS = 0 crashes, no XX000 raised in the
# extension's code and no XX000 at all in the targeted phase (its statements
# call one es function each).  Everything is kept in bench/out/sqlsmith on
# failure (data directories are removed after a PASS unless BENCH_KEEP=1).
source "$(dirname "$0")/../scripts/lib.sh"

OUT=$ES_REPO/bench/out/sqlsmith
PORT=${SQLSMITH_PORT:-54375}
LOGPORT=$((PORT + 1))
QUERIES=${SQLSMITH_QUERIES:-20000}
SEED=${SQLSMITH_SEED:-1}
SECONDS_MAX=${SQLSMITH_SECONDS:-1800}
CALLS=${ES_FUZZ_CALLS:-40}
TARGET=$OUT/target
LOGC=$OUT/logdb
SUMMARY=$OUT/summary.txt

# --- what is needed ------------------------------------------------------------
"$ES_SCRIPTS/deps.sh"
es_pg_paths
es_check_pg_access
if ! command -v sqlsmith >/dev/null; then
	is_root || die "sqlsmith is not installed: sudo apt-get install -y sqlsmith"
	DEBIAN_FRONTEND=noninteractive apt-get install -y sqlsmith >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y sqlsmith >/dev/null; } ||
		die "apt-get install sqlsmith failed"
fi
command -v python3 >/dev/null || die "needs python3"
[ -f "$("$PG_CONFIG" --pkglibdir)/event_streaming.so" ] ||
	die "event_streaming is not installed in $("$PG_CONFIG" --pkglibdir); run 'make install' first"

mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.sql "$OUT"/*.out "$OUT"/*.err
SOCK=$(es_socket_dir "$TARGET")
LOGSOCK=$(es_socket_dir "$LOGC")
psql_t() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres "$@"; }
psql_l() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$LOGSOCK" -p "$LOGPORT" -U postgres "$@"; }

stop_all() {
	"$ES_SCRIPTS/cluster.sh" stop "$TARGET" >/dev/null 2>&1 || true
	"$ES_SCRIPTS/cluster.sh" stop "$LOGC" >/dev/null 2>&1 || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# --- the clusters --------------------------------------------------------------
ES_EXTRA_CONF="event_streaming.databases = 'fuzz'
log_min_error_statement = panic
log_min_messages = warning
log_error_verbosity = verbose
max_connections = 30" \
	"$ES_SCRIPTS/cluster.sh" start "$TARGET" "$PORT" >/dev/null
ES_NO_PRELOAD=1 "$ES_SCRIPTS/cluster.sh" start "$LOGC" "$LOGPORT" >/dev/null
LOG=$TARGET/log
START=$(date +%s)
echo "== bench/sqlsmith: $(sqlsmith --version 2>&1 | head -n 1), $("$PG_BINDIR/postgres" -V), library $("$PG_CONFIG" --pkglibdir)/event_streaming.so"

psql_t -d postgres -c "CREATE DATABASE fuzz"
psql_t -d fuzz >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION event_streaming;
-- streams
SELECT es.append('order-' || i, 'OrderPlaced', jsonb_build_object('total', i),
                 jsonb_build_object('correlation_id', 'c-' || i)) FROM generate_series(1, 20) i;
SELECT es.append('order-' || i, 'OrderPaid', '{}') FROM generate_series(1, 10) i;
SELECT es.append('user-' || i, 'UserJoined', jsonb_build_object('name', 'u' || i)) FROM generate_series(1, 10) i;
SELECT es.append_batch('cart-1', '[{"type": "CartCreated", "data": {}},
  {"type": "ItemAdded", "data": {"sku": "A"}, "metadata": {"causation_id": "x"}}]');
-- queues
SELECT es.create_queue('jobs', visibility_timeout => '1 minute', max_deliveries => 2);
SELECT es.create_queue('mail');
SELECT es.enqueue('jobs', jsonb_build_object('n', i)) FROM generate_series(1, 20) i;
SELECT es.enqueue('jobs', '{"later": true}', delay => '1 hour');
SELECT es.enqueue('jobs', jsonb_build_object('g', i), group_key => 'g1') FROM generate_series(1, 3) i;
SELECT count(*) FROM es.dequeue('jobs', 'w1', max_messages => 3);
SELECT es.nack('jobs', message_id, receipt, requeue => false, error => 'bad')
  FROM es.dequeue('jobs', 'w2');
SELECT es.enqueue('mail', '{"to": "a"}', '{"h": 1}');
-- subscriptions
SELECT es.create_subscription('billing', 'order');
SELECT es.create_subscription('all', '$all', 'beginning', 3);
SELECT es.create_subscription('one', 'user-1', 'end');
-- a projection
CREATE TABLE order_totals (stream text PRIMARY KEY, n bigint NOT NULL);
CREATE FUNCTION order_totals_apply(e es.event) RETURNS void LANGUAGE sql AS $$
  INSERT INTO order_totals VALUES (e.stream, 1)
  ON CONFLICT (stream) DO UPDATE SET n = order_totals.n + 1 $$;
SELECT es.create_projection('order_totals', 'order', 'order_totals_apply(es.event)');
-- an upcaster
CREATE FUNCTION user_joined_v2(data jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT jsonb_build_object('profile', data) $$;
SELECT es.register_upcaster('UserJoined', 1, 'user_joined_v2(jsonb)');
-- a captured table
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL);
INSERT INTO accounts SELECT i, 100 FROM generate_series(1, 5) i;
BEGIN;
SELECT es.capture_table('accounts', 'account');
SELECT es.import_table('accounts', 'account');
COMMIT;
UPDATE accounts SET balance = balance + 1 WHERE id = 1;
-- a data migration, settings
CREATE PROCEDURE fuzz_step() LANGUAGE sql AS $$ SELECT 1 $$;
SELECT es.register_data_migration('fuzz step', 1, 'fuzz_step()');
SELECT es.configure('order-1', max_count => 100);
SELECT es.configure_category('user', max_age => '30 days');
SELECT es.configure('jobs', retry_delay => '1 second', dead_letter_max_count => 10);
-- for the targeted phase
CREATE FUNCTION fuzz_handler(e es.event) RETURNS void LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION fuzz_upcast(data jsonb, metadata jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT data $$;
CREATE FUNCTION fuzz_null_upcast(data jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
CREATE TABLE fuzz_crud (id bigint PRIMARY KEY, code text UNIQUE NOT NULL, v jsonb);
INSERT INTO fuzz_crud VALUES (1, 'a', '{}'), (2, 'b', NULL);
CREATE TABLE fuzz_nokey (v int);
SQL
psql_t -d fuzz -Atc "SELECT count(*) FROM es.events" >"$OUT/setup_events.txt"

psql_l -d postgres -c "CREATE DATABASE sqlsmith_log"
psql_l -d sqlsmith_log >/dev/null <<'SQL'
CREATE TABLE instance (id bigserial PRIMARY KEY, rev text, target text, hostname text,
                       version text, seed text, t timestamptz DEFAULT now());
CREATE TABLE error (id bigint REFERENCES instance (id), msg text, query text, target text,
                    sqlstate text, t timestamptz DEFAULT now());
CREATE TABLE stat (id bigint REFERENCES instance (id), generated bigint, level float8,
                   nodes float8, retries float8, impedance text, updated timestamptz);
SQL

# --- 1. sqlsmith ---------------------------------------------------------------------
echo "== 1. sqlsmith: seed $SEED, at most $QUERIES queries and $SECONDS_MAX s"
t0=$(date +%s)
rc=0
timeout --signal=INT "$SECONDS_MAX" sqlsmith \
	--target="host=$SOCK port=$PORT dbname=fuzz user=postgres" \
	--log-to="host=$LOGSOCK port=$LOGPORT dbname=sqlsmith_log user=postgres" \
	--seed="$SEED" --max-queries="$QUERIES" --verbose >/dev/null 2>"$OUT/sqlsmith.err" || rc=$?
t1=$(date +%s)
# The verbose report's last "queries: N" (every 10 columns of dots and at the end).
ran=$(grep -E '^queries: [0-9]+' "$OUT/sqlsmith.err" | tail -n 1 | awk '{ print $2 }')
case $rc in
0) bound="query bound" ;;
124) bound="time bound (stopped after ${SECONDS_MAX} s)" ;;
*) die "sqlsmith failed (exit status $rc): $(tail -n 3 "$OUT/sqlsmith.err")" ;;
esac
echo "   ${ran:-?} queries in $((t1 - t0)) s; ended by the $bound"

# --- 2. targeted calls of every es function ------------------------------------------
echo "== 2. targeted: every es function $CALLS times with random edge-value arguments"
psql_t -d fuzz -At -F $'\t' >"$OUT/es_functions.txt" <<'SQL'
SELECT p.proname, p.prokind, p.proretset,
       coalesce((SELECT string_agg(format_type(t, NULL), ',' ORDER BY o)
                   FROM unnest(p.proargtypes) WITH ORDINALITY AS a (t, o)), '')
  FROM pg_proc p
 WHERE p.pronamespace = 'es'::regnamespace
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
 ORDER BY 1, 4;
SQL
python3 - "$OUT/es_functions.txt" "$CALLS" "$SEED" >"$OUT/targeted.sql" <<'PY'
import random, sys

fn_file, calls, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)

def q(s):
    return "'" + s.replace("'", "''") + "'"

long_name = "x" * 201
pools = {
    "text": [q(s) for s in ["order-1", "order-2", "user-1", "cart-1", "jobs", "mail", "billing", "all",
                            "order_totals", "fuzz step", "order", "user", "account", "$all", "beginning",
                            "end", "0", "-1", "42", "99999999999999999999", "OrderPlaced", "UserJoined",
                            "stop", "park", "max_count", "max_age", "visibility_timeout", "", " ", "-",
                            "a-", "-b", "a-b-c", "new-" , "nq", "ünïcödé-ß", long_name, "y" * 100000,
                            "bad\x01name", "tab\tname", "x\x7f", "order-1\n", "%s%n", "'); DROP TABLE x; --"]]
            + ["'new-' || gen_random_uuid()", "'q-' || (random() * 3)::int", "repeat('z', 200)",
               "repeat('é', 100)", "NULL"],
    "bigint": ["0", "1", "-1", "-2", "2", "3", "100", "1000000", "2147483648", "9223372036854775807",
               "-9223372036854775808", "(SELECT max(message_id) FROM es.messages)",
               "(SELECT min(message_id) FROM es.messages)", "(SELECT max(global_position) FROM es.events)",
               "es.settled_position()", "(SELECT max(global_position) FROM es.events) + 1000", "NULL"],
    "integer": ["0", "1", "-1", "2", "3", "100", "1000", "10001", "100001", "1000001", "2147483647",
                "-2147483648", "NULL"],
    "boolean": ["true", "false", "NULL"],
    "jsonb": [q(s) for s in ["{}", "[]", "null", "1", "\"s\"", "{\"a\": 1}", "{\"correlation_id\": 1}",
                             "{\"correlation_id\": \"c\", \"causation_id\": null}",
                             "[{\"type\": \"T\", \"data\": {}}]", "[{\"type\": \"T\"}]",
                             "[{\"data\": {}}]", "[{\"type\": 1, \"data\": 2}]", "[{\"type\": \"\", \"data\": 1}]",
                             "[{\"type\": \"T\", \"data\": {}, \"id\": \"nope\"}]",
                             "[{\"type\": \"T\", \"data\": {}, \"id\": \"00000000-0000-0000-0000-000000000000\"}]",
                             "[{\"type\": \"T\", \"data\": {}, \"metadata\": []}]",
                             "[{\"type\": \"T\", \"data\": {}, \"extra\": 1}]", "[null]", "[1, 2]", "[[]]",
                             "{\"type\": \"T\", \"data\": {}}"]]
             + ["(SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i)) FROM generate_series(1, 20000) i)",
                "(repeat('[', 5000) || repeat(']', 5000))::jsonb",
                "jsonb_build_object('big', repeat('b', 1000000))",
                "(SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', i, 'id', gen_random_uuid())) FROM generate_series(1, 3) i)",
                "NULL"],
    "jsonb[]": ["ARRAY['{}']::jsonb[]", "ARRAY[]::jsonb[]", "ARRAY[NULL]::jsonb[]", "ARRAY['1', '[]', 'null']::jsonb[]",
                "ARRAY[['{}'], ['{}']]::jsonb[]", "(SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 20000) i)",
                "NULL"],
    "uuid": ["gen_random_uuid()", "'00000000-0000-0000-0000-000000000000'",
             "(SELECT receipt FROM es.messages WHERE receipt IS NOT NULL LIMIT 1)",
             "(SELECT event_id FROM es.events LIMIT 1)", "NULL"],
    "interval": [q(s) for s in ["0", "1 second", "-1 second", "1 ms", "30 seconds", "100 years", "-100 years",
                                "1 day", "7 days", "8 days", "1 microsecond", "2 seconds"]] + ["NULL"],
    "timestamp with time zone": ["now()", "'infinity'", "'-infinity'", "'2000-01-01'", "now() + '1 year'",
                                 "'4714-11-24 00:00:00+00 BC'", "NULL"],
    "text[]": ["ARRAY['order']", "ARRAY[]::text[]", "ARRAY[NULL]::text[]", "ARRAY[['a'], ['b']]",
               "ARRAY['max_age', 'bogus']", "ARRAY['max_count', 'visibility_timeout', 'max_deliveries']",
               "ARRAY['order-1']", "ARRAY['user', 'order', 'cart']", "ARRAY['OrderPlaced', 'UserJoined']",
               "(SELECT array_agg('c' || i) FROM generate_series(1, 10000) i)", "NULL"],
    "regclass": ["'accounts'::regclass", "'fuzz_crud'::regclass", "'fuzz_nokey'::regclass",
                 "'order_totals'::regclass", "'es.events'::regclass", "'pg_class'::regclass", "0::regclass",
                 "'es.streams'::regclass", "NULL"],
    "regclass[]": ["ARRAY['order_totals'::regclass]", "ARRAY['es.events'::regclass]", "ARRAY[]::regclass[]",
                   "ARRAY[NULL]::regclass[]", "ARRAY['pg_class'::regclass]", "NULL"],
    "regprocedure": ["'fuzz_handler(es.event)'::regprocedure", "'order_totals_apply(es.event)'::regprocedure",
                     "'fuzz_upcast(jsonb, jsonb)'::regprocedure", "'fuzz_null_upcast(jsonb)'::regprocedure",
                     "'user_joined_v2(jsonb)'::regprocedure", "'fuzz_step()'::regprocedure",
                     "'now()'::regprocedure", "'pg_sleep(double precision)'::regprocedure", "0::regprocedure",
                     "NULL"],
    "name": ["'id'", "'code'", "'v'", "'nope'", "''", "NULL"],
}
fallback = ["NULL"]

out = ["\\set VERBOSITY sqlstate", "SET statement_timeout = '1s';", "SET client_min_messages = error;"]
fns = []
for line in open(fn_file):
    name, kind, retset, args = line.rstrip("\n").split("\t")
    fns.append((name, kind, args.split(",") if args else []))
n = 0
for _ in range(calls):
    for name, kind, args in fns:
        vals = [rng.choice(pools.get(t, fallback)) + ("::" + t if t in pools else "::" + t) for t in args]
        call = "es.%s(%s)" % (name, ", ".join(vals))
        n += 1
        if kind == "p":
            out.append("/* fuzz %d */ CALL %s;" % (n, call))
        else:
            out.append("/* fuzz %d */ SELECT count(*) FROM (SELECT %s) AS c;" % (n, call))
# Shuffle the calls (each is independent), keeping the settings first.
head, body = out[:3], out[3:]
rng.shuffle(body)
print("\n".join(head + body))
PY
ncalls=$(grep -c '^/\* fuzz' "$OUT/targeted.sql")
nfns=$(wc -l <"$OUT/es_functions.txt")
# psql stops at a lost connection (a crash): go on after the statement it was
# running (the last one echoed), as many times as it takes.
: >"$OUT/targeted.out"
t2=$(date +%s)
from=4 prev= tries=0
while :; do
	{ head -n 3 "$OUT/targeted.sql"; tail -n +"$from" "$OUT/targeted.sql"; } >"$OUT/targeted.part.sql"
	prc=0
	"$PG_BINDIR/psql" -X -h "$SOCK" -p "$PORT" -U postgres -d fuzz -e -f "$OUT/targeted.part.sql" \
		>>"$OUT/targeted.out" 2>&1 || prc=$?
	[ $prc -eq 2 ] || break
	last=$(grep -oE '^/\* fuzz [0-9]+ \*/' "$OUT/targeted.out" | tail -n 1 | grep -oE '[0-9]+' || true)
	if [ -z "$last" ] || [ "$last" = "$prev" ]; then
		tries=$((tries + 1))
		[ $tries -lt 30 ] || { echo "   psql cannot go on (see $OUT/targeted.out)"; break; }
		sleep 2
		continue
	fi
	echo "   the connection was lost at call $last; going on after it"
	prev=$last tries=0
	from=$(($(grep -nF "/* fuzz $last */" "$OUT/targeted.sql" | cut -d: -f1) + 1))
	sleep 2
done
t3=$(date +%s)
echo "   $ncalls calls of $nfns functions in $((t3 - t2)) s"

# --- results ------------------------------------------------------------------------
sleep 1
# (a background worker exiting with code 1 asks to be restarted: not a crash)
crash_re='terminated by signal|server process \(PID [0-9]+\) exited with exit code [1-9]|exited with exit code ([2-9]|[1-9][0-9]+)|was terminated by exception|PANIC:|TRAP:|all server processes terminated; reinitializing'
crashes=$(grep -cE "$crash_re" "$LOG" || true)
# and, with a sanitized build (PG_CONFIG of make test-sanitize's server copy),
# the sanitizers' reports that reach the log
san_reports=$(grep -cE 'runtime error: |^==[0-9]+==ERROR: ' "$LOG" || true)
backend_crashes=$(grep -cE 'server process \(PID [0-9]+\) (was terminated|exited with exit code [1-9])' "$LOG" || true)
psql_l -d sqlsmith_log -At -F $'\t' -c "
  SELECT coalesce(substr(sqlstate, 1, 2), '??'), count(*) FROM error GROUP BY 1 ORDER BY 2 DESC" >"$OUT/sqlsmith_classes.txt"
sqlsmith_errors=$(psql_l -d sqlsmith_log -Atc "SELECT count(*) FROM error")
psql_l -d sqlsmith_log -At -c "
  SELECT format(E'-- %s %s\n%s\n', sqlstate, split_part(msg, E'\n', 1), query) FROM error
   WHERE sqlstate = 'XX000' OR sqlstate LIKE '58%' ORDER BY t" >"$OUT/sqlsmith_internal.txt"
sqlsmith_xx=$(psql_l -d sqlsmith_log -Atc "SELECT count(*) FROM error WHERE sqlstate = 'XX000'")
sqlsmith_es_errors=$(psql_l -d sqlsmith_log -Atc "SELECT count(*) FROM error WHERE query ~ '\mes\.[a-z_]+\('")
# Where each internal error was raised (log_error_verbosity = verbose): an
# XX000 raised in the extension's own sources is its bug whatever the query;
# one raised in PostgreSQL's code is shown but not counted against it (the
# targeted phase counts every XX000: its statements call one es function).
# A location is the extension's when its file is one of src/*.c and its
# function one of the library's (several of those file names exist in
# PostgreSQL too).
srcs=$(cd "$ES_REPO/src" && ls -- *.c | paste -sd'|')
nm --defined-only "$("$PG_CONFIG" --pkglibdir)/event_streaming.so" 2>/dev/null |
	awk '$2 ~ /^[tT]$/ { print $3 }' >"$OUT/library_functions.txt"
awk -v srcs="$srcs" '
	FILENAME == ARGV[1] { fn[$1] = 1; next }
	/ERROR:  XX000: / { msg = $0; sub(/.*ERROR:  XX000: /, "", msg); want = 1; next }
	want && /LOCATION:  / {
		loc = $0; sub(/.*LOCATION:  /, "", loc)
		func = loc; sub(/, .*/, "", func)
		file = loc; sub(/.*, /, "", file); sub(/:[0-9]+$/, "", file)
		print ((file ~ ("^(" srcs ")$") && (func in fn)) ? "extension" : "postgres") "\t" loc "\t" msg
		want = 0
	}' "$OUT/library_functions.txt" "$LOG" >"$OUT/internal_locations.txt"
xx_es_code=$(grep -c '^extension' "$OUT/internal_locations.txt" || true)
# psql with VERBOSITY sqlstate prints "ERROR:  XXXXX"
grep -oE '^psql:[^ ]+ ERROR:  [0-9A-Z]{5}|^ERROR:  [0-9A-Z]{5}' "$OUT/targeted.out" | grep -oE '[0-9A-Z]{5}$' |
	cut -c1-2 | sort | uniq -c | sort -rn | awk '{ print $2 "\t" $1 }' >"$OUT/targeted_classes.txt"
targeted_errors=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$OUT/targeted_classes.txt")
targeted_xx=$(awk -F'\t' '$1 == "XX" { s += $2 } END { print s + 0 }' "$OUT/targeted_classes.txt")
# the statement of each XX000 of the targeted phase: the echoed one before it
awk '/^\/\* fuzz/ { stmt = $0 } /ERROR:  XX000/ { print stmt }' "$OUT/targeted.out" >"$OUT/targeted_internal.txt"
grep -E 'DETAIL:  Failed process was running' "$LOG" >"$OUT/crash_queries.txt" || true

{
	echo "bench/sqlsmith.sh  $(date -u '+%Y-%m-%d %H:%M UTC')  $(nproc) cores  $("$PG_BINDIR/postgres" -V)"
	echo "sqlsmith: seed $SEED, ${ran:-?} queries (bound $QUERIES, ended by the $bound), $((t1 - t0)) s"
	echo "  errors: $sqlsmith_errors ($sqlsmith_es_errors in queries calling es functions); by SQLSTATE class:"
	sed 's/^/    /' "$OUT/sqlsmith_classes.txt"
	echo "  XX000: $sqlsmith_xx (queries in sqlsmith_internal.txt)"
	echo "targeted: $ncalls calls of $nfns es functions, $((t3 - t2)) s; errors $targeted_errors by SQLSTATE class:"
	sed 's/^/    /' "$OUT/targeted_classes.txt"
	echo "  XX000: $targeted_xx; see targeted_internal.txt"
	echo "server: $backend_crashes backend crashes, $crashes crash lines in the log (crash_queries.txt)," \
		"$san_reports sanitizer reports;"
	echo "  XX000 raised in the extension's sources: $xx_es_code, in PostgreSQL's:" \
		"$(grep -c '^postgres' "$OUT/internal_locations.txt" || true) (internal_locations.txt)"
	sed -n 's/^postgres\t/    /p' "$OUT/internal_locations.txt" | sort | uniq -c | sort -rn | head -n 10
	echo "total wall time $(($(date +%s) - START)) s"
} | tee "$SUMMARY"
if [ "$crashes" -eq 0 ] && [ "$xx_es_code" -eq 0 ] && [ "$targeted_xx" -eq 0 ] && [ "$san_reports" -eq 0 ]; then
	echo "bench/sqlsmith: PASS (0 backend crashes, 0 internal errors from es functions)" | tee -a "$SUMMARY"
	stop_all
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$TARGET/data" "$LOGC/data"
	exit 0
fi
echo "bench/sqlsmith: FAIL; server log $LOG, outputs in $OUT" | tee -a "$SUMMARY"
[ "$san_reports" -eq 0 ] || { echo "-- sanitizer reports:"; grep -nE -A 20 'runtime error: |^==[0-9]+==ERROR: ' "$LOG" | head -n 200; }
[ ! -s "$OUT/crash_queries.txt" ] || { echo "-- queries the crashed backends were running:"; cat "$OUT/crash_queries.txt"; }
[ ! -s "$OUT/targeted_internal.txt" ] || { echo "-- targeted calls that raised XX000:"; cat "$OUT/targeted_internal.txt"; }
[ "$xx_es_code" -eq 0 ] || { echo "-- XX000 raised in the extension's sources:"; grep '^extension' "$OUT/internal_locations.txt"; }
exit 1
