#!/usr/bin/env bash
# bench/retention.sh -- what retention costs the appends running next to it:
# delete-based retention (es.sweep_retention, 0.3.0) against dropping whole
# chunks of a range-partitioned copy of es.events.
#
#   make install && make bench-retention        (or: bench/retention.sh)
#   ES_BENCH_EVENTS=50000 ES_BENCH_RATE=2000 bench/retention.sh     (quick check)
#
# Starts a throwaway cluster in bench/out/retention/data (unix socket only,
# the settings of bench/lib.sh: synchronous_commit=on, autovacuum on with its
# defaults) and, in ONE run, measures:
#
#   1. Delete-based retention.  ES_BENCH_EVENTS events (ES_BENCH_STREAMS
#      streams, appended round-robin so that each stream's events are spread
#      over the whole table, as concurrent streams are) are written straight
#      into es.events / es.stream_catalog, 2 days old, with gapless offsets
#      from 0 per stream, positions 1..N (es.global_position_seq set to N);
#      es.configure_category('bench', max_age => '1 day') makes them all
#      expired.  The sweep runs as the worker runs it, each step (at most
#      B = ES_BENCH_BATCH rows, event_streaming.sweep_batch_size = B) its own
#      transaction, by one of (ES_BENCH_SWEEPER):
#        worker  (default) the background worker's retention pass itself: the
#                worker serves the bench database with its retention pass
#                switched off; for a sweep the script switches it on (ALTER
#                SYSTEM, retention_interval 1 s, reload), waits in the server
#                until es.worker_status shows the pass finished, and switches
#                it off again.  Start and end: es.worker_status.last_start /
#                last_finish; rows: last_affected.  One cursor for the whole
#                pass, as in production.
#        loop    one DO block that loops
#                    SELECT sum(affected) FROM es.sweep_retention(max_rows => B); COMMIT;
#                until a call removes fewer than B rows; gives per-step times.
#                Each call starts its cursor again at the first stream, so it
#                walks over the streams already emptied (the worker does not).
#                With the 0.3.0 build of 2026-11-21 es.sweep_retention can
#                crash the backend (use after free of the pending result
#                name, src/retention.c CollectResult/FlushResult): this mode
#                then stops with the server log's "terminated by signal".
#        a. alone (no appends): wall time, rows/s, WAL (pg_current_wal_insert_lsn
#           before and after; pg_stat_wal records / full-page images); autovacuum is held
#           off es.events for this run only, so that the WAL is the sweep's
#           alone and the VACUUM es.events timed right after it does all the
#           clean-up work the sweep left (dead tuples, time, WAL);
#        b. reloaded, then under appends: pgbench -R ES_BENCH_RATE (Poisson
#           arrivals) of es.append(<random stream of the same 1000>, ...),
#           ES_BENCH_CLIENTS clients, per-transaction log (-l).  After a
#           warm-up and a baseline period, the sweep starts; pgbench goes on
#           past its end.  Append latency p99 is computed from every logged
#           transaction (pgbench's per-transaction latency, which under -R is
#           measured from the scheduled start, so a stalled client shows as
#           latency, not as a lower rate):
#             during   = transactions overlapping [sweep start, sweep end]
#             baseline = transactions entirely inside the period of the same
#                        length just before the sweep start (same pgbench run)
#           Also: WAL between sweep start and end (appends included), the
#           appends' own WAL rate in the baseline period and what is left for
#           the sweep after subtracting it, dead tuples and autovacuum runs
#           of es.events afterwards, and a check that every stream was cut at
#           a prefix (offsets gapless from truncated_before) with no expired
#           event left and one row per logged append.
#   2. Chunk drop.  The same events, generated the same way, in
#      bench_chunked: PARTITION BY RANGE (global_position), ES_BENCH_PARTITIONS
#      partitions of N/P positions, each created LIKE es.events INCLUDING ALL
#      (same columns, defaults, CHECK and the same 6 indexes, checked) and
#      attached; the parent has no index of its own (unique indexes on a
#      partitioned table would have to include global_position).  Every
#      partition is dropped with DROP TABLE, one per transaction (DO loop with
#      COMMIT).  Alone, then reloaded and under the same append load -- the
#      appends go through es.append into es.events (truncated and reseeded
#      with one event per stream), not into the partitioned table.  Same
#      figures.
#
# A "during" window shorter than ES_BENCH_MIN_WINDOW seconds (a drop, a small
# sweep) is widened to that, from the work's start, and the baseline window
# with it, so that each p99 rests on enough transactions.  The VACUUM after
# the sweep alone finds every row dead, so it also truncates the heap to
# nothing; under appends the newest pages hold live rows.
#
# pgbench runs for warm-up + baseline + SLACK x (time of the same work alone)
# + a few seconds; if the work under load outlasts the appends, the figures
# say so (raise ES_BENCH_SLACK).  The baseline period is as long as the
# appends-alone estimate allows; when the sweep under load takes longer than
# it, the baseline window is the whole period and a warning says so.
#
# Prints a summary and key=value lines, writes everything (pgbench output,
# VACUUM VERBOSE) to bench/out/retention/last-run.txt, per-second latency
# timelines to bench/out/retention/*-timeline.txt, and stops the cluster on
# exit.  Installs nothing and never touches a system cluster.
#
# Environment:
#   ES_BENCH_EVENTS      expired events to remove                  (default 1000000)
#   ES_BENCH_STREAMS     streams they belong to, and that the appends go to (default 1000)
#   ES_BENCH_RATE        appends per second, all clients           (default 10000)
#   ES_BENCH_BATCH       rows per sweep step (max_rows, sweep_batch_size) (default 5000)
#   ES_BENCH_CLIENTS     pgbench clients                           (default 8)
#   ES_BENCH_JOBS        pgbench threads                           (default min(clients, nproc))
#   ES_BENCH_PARTITIONS  partitions of the chunked copy            (default 10)
#   ES_BENCH_WARMUP      seconds of appends before the baseline    (default 5)
#   ES_BENCH_SLACK       how many times the alone time the appends must outlast (default 3)
#   ES_BENCH_SWEEPER     worker | loop, see above                  (default worker)
#   ES_BENCH_MIN_WINDOW  shortest latency window, seconds          (default 1)
#   BENCH_PORT           port of the throwaway server              (default 54345)
#   BENCH_KEEP           set to keep bench/out/retention/data after a successful run
#   PG_CONFIG            pg_config of the server to use            (default: first in PATH)
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out/retention
RESULT=$OUT/last-run.txt
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "bench: $1 must be a positive integer" >&2; exit 1; }; }
EVENTS=${ES_BENCH_EVENTS:-1000000};      posint ES_BENCH_EVENTS "$EVENTS"
NSTREAMS=${ES_BENCH_STREAMS:-1000};      posint ES_BENCH_STREAMS "$NSTREAMS"
RATE=${ES_BENCH_RATE:-10000};            posint ES_BENCH_RATE "$RATE"
SWEEP_BATCH=${ES_BENCH_BATCH:-5000};     posint ES_BENCH_BATCH "$SWEEP_BATCH"
CLIENTS=${ES_BENCH_CLIENTS:-8};          posint ES_BENCH_CLIENTS "$CLIENTS"
JOBS=${ES_BENCH_JOBS:-$((CLIENTS < $(nproc) ? CLIENTS : $(nproc)))}
posint ES_BENCH_JOBS "$JOBS"
((JOBS <= CLIENTS)) || { echo "bench: ES_BENCH_JOBS must not exceed ES_BENCH_CLIENTS" >&2; exit 1; }
PARTS=${ES_BENCH_PARTITIONS:-10};        posint ES_BENCH_PARTITIONS "$PARTS"
WARMUP=${ES_BENCH_WARMUP:-5};            posint ES_BENCH_WARMUP "$WARMUP"
SLACK=${ES_BENCH_SLACK:-3};              posint ES_BENCH_SLACK "$SLACK"
MINWIN=${ES_BENCH_MIN_WINDOW:-1};        posint ES_BENCH_MIN_WINDOW "$MINWIN"
SWEEPER=${ES_BENCH_SWEEPER:-worker}
[[ $SWEEPER == worker || $SWEEPER == loop ]] || { echo "bench: ES_BENCH_SWEEPER must be worker or loop" >&2; exit 1; }
((EVENTS >= NSTREAMS)) || { echo "bench: ES_BENCH_EVENTS must be at least ES_BENCH_STREAMS" >&2; exit 1; }
((EVENTS >= PARTS)) || { echo "bench: ES_BENCH_EVENTS must be at least ES_BENCH_PARTITIONS" >&2; exit 1; }
((SWEEP_BATCH <= 1000000)) || { echo "bench: ES_BENCH_BATCH is at most 1000000 (event_streaming.sweep_batch_size)" >&2; exit 1; }
# shellcheck disable=SC2034  # used by lib.sh
PORT=${BENCH_PORT:-54345}
TAIL=3   # seconds of appends after the measured work, at least

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The sweep's step size, for the worker and for es.sweep_retention alike.
# With ES_BENCH_SWEEPER=worker the worker serves the bench database, its
# retention pass switched off until a sweep is wanted.
SETTINGS+=("event_streaming.sweep_batch_size = $SWEEP_BATCH")
if [[ $SWEEPER == worker ]]; then
    SETTINGS+=("event_streaming.databases = 'bench'" "event_streaming.retention = off")
fi

start_cluster_pinned

# pgbench runs in the background: stop it too if this script fails.
APP_PID=
retention_exit() {
    local rc=$?
    set +e   # under errexit, the (exit "$rc") below would end the trap before cleanup
    if [[ -n $APP_PID ]]; then
        kill "$APP_PID" 2>/dev/null || true
        wait "$APP_PID" 2>/dev/null || true
    fi
    (exit "$rc")
    cleanup
}
trap retention_exit EXIT

psql_ -d bench >/dev/null <<'SQL'
CREATE EXTENSION event_streaming;
SQL
[[ -n $(q "SELECT to_regprocedure('es.sweep_retention(timestamptz,bigint)')") ]] ||
    die "es.sweep_retention is not installed (extension version" \
        "$(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'"), 0.3.0 needed); run 'make install'"
q "SELECT es.configure_category('bench', max_age => interval '1 day')" >/dev/null
N_INDEXES=$(q "SELECT count(*) FROM pg_index WHERE indrelid = 'es.events'::regclass")
EV_SHAPE=$(index_shape es.events)

# --- helpers ---------------------------------------------------------------------
since() { awk -v a="$1" -v b="$(date +%s%N)" -v d="${2:-1}" 'BEGIN{printf "%.*f", d, (b - a) / 1e9}'; }
say() { echo "  $*" | tee -a "$RESULT"; }
log() { echo "$*" >>"$RESULT"; }
lsn() { q "SELECT pg_current_wal_insert_lsn()"; }
lsn_diff() { q "SELECT pg_wal_lsn_diff('$1', '$2')::bigint"; }
mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b / 1048576}'; }
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN{printf "%.*f", d, x}'; }
div() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN{if (b == 0) print "-"; else printf "%.*f", d, a / b}'; }
now_us() { echo $(($(date +%s%N) / 1000)); }
wal_stats() { q "SELECT wal_records || ' ' || wal_fpi || ' ' || wal_bytes FROM pg_stat_wal"; }

# The event generator, shared by es.events and the chunked copy: event g
# (1..N) is offset (g-1)/S of stream bench-((g-1)%S+1), 2 days old (+ g ms),
# with a time-ordered id as es.append makes them (a UUIDv7-shaped value from g).
EVENTS_SELECT="SELECT g, 'bench-' || ((g - 1) % $NSTREAMS + 1), (g - 1) / $NSTREAMS,
       (lpad(to_hex(g), 12, '0') || '70008000' || lpad(to_hex(g), 12, '0'))::uuid,
       'Deposited', '$DATA_JSON'::jsonb,
       now() - interval '2 days' + g * interval '1 millisecond'
  FROM generate_series(1, $EVENTS) g"
EVENTS_COLS="global_position, stream, stream_offset, event_id, event_type, data, created_at"

# Empty es.events and the catalog.  The loads are not measured.
empty_events() {
    PGOPTIONS="-c synchronous_commit=off -c client_min_messages=warning" psql_ -d bench >/dev/null <<SQL
SET session_replication_role = replica;  -- past es.events_guard
TRUNCATE es.events, es.stream_catalog CASCADE;
ALTER SEQUENCE es.global_position_seq RESTART;
SQL
}

load_events() {   # the N expired events into es.events
    local t0
    t0=$(date +%s%N)
    empty_events
    PGOPTIONS="-c synchronous_commit=off" psql_ -d bench >/dev/null <<SQL
INSERT INTO es.stream_catalog (stream, kind, created_at)
  SELECT 'bench-' || i, 'persistent', now() - interval '2 days' FROM generate_series(1, $NSTREAMS) i;
INSERT INTO es.events ($EVENTS_COLS) $EVENTS_SELECT;
SELECT setval('es.global_position_seq', $EVENTS);
SQL
    log "-- load: $EVENTS events of $NSTREAMS streams into es.events in $(since "$t0") s"
}

seed_events() {   # es.events with one (fresh) event per stream, through es.append
    empty_events
    psql_ -d bench >/dev/null -c \
        "SELECT es.append('bench-' || i, 'Opened', '{}') FROM generate_series(1, $NSTREAMS) i"
}

load_chunked() {   # the same N events into P fresh partitions of bench_chunked
    local t0 k lo hi
    t0=$(date +%s%N)
    {
        echo "DROP TABLE IF EXISTS bench_chunked;"
        echo "CREATE TABLE bench_chunked (LIKE es.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        echo "  PARTITION BY RANGE (global_position);"
        for ((k = 0; k < PARTS; k++)); do
            lo=$((1 + k * EVENTS / PARTS))
            hi=$((1 + (k + 1) * EVENTS / PARTS))
            echo "CREATE TABLE bench_chunk_$k (LIKE es.events INCLUDING ALL);"
            echo "ALTER TABLE bench_chunked ATTACH PARTITION bench_chunk_$k FOR VALUES FROM ($lo) TO ($hi);"
        done
        echo "INSERT INTO bench_chunked ($EVENTS_COLS) $EVENTS_SELECT;"
    } | PGOPTIONS="-c synchronous_commit=off -c client_min_messages=warning" psql_ -d bench >/dev/null
    for ((k = 0; k < PARTS; k++)); do
        [[ $(index_shape "bench_chunk_$k") == "$EV_SHAPE" ]] ||
            die "bench_chunk_$k does not have the indexes of es.events"
    done
    [[ $(q "SELECT count(*) FROM bench_chunked") == "$EVENTS" ]] || die "bench_chunked: wrong row count"
    log "-- load: $EVENTS events into $PARTS partitions of bench_chunked in $(since "$t0") s"
}

settle() {
    local t0
    t0=$(date +%s%N)
    psql_ -d bench -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
    log "   (VACUUM ANALYZE + CHECKPOINT: $(since "$t0") s)"
}

# Run a DO block that reports "bench-result k=v ..." in a NOTICE; set
# R[PREFIX_k] from it.
run_timed_do() {   # PREFIX SQL...
    local prefix=$1 out line kv
    shift
    out=$(psql_ -d bench "$@" 2>&1) || {
        echo "$out" >&2
        grep 'terminated by signal' "$LOG" >&2 || true
        die "$prefix: psql failed"
    }
    line=$(grep -o 'bench-result .*' <<<"$out" | tail -1)
    [[ -n $line ]] || { echo "$out" >&2; die "$prefix: no result line"; }
    log "$line"
    for kv in ${line#bench-result }; do
        R[${prefix}_${kv%%=*}]=${kv#*=}
    done
}

# The sweep, each step its own transaction.  Times, positions and step
# statistics come from the server.
sweep_run() {   # PREFIX
    if [[ $SWEEPER == worker ]]; then worker_sweep "$1"; else loop_sweep "$1"; fi
}

# ES_BENCH_SWEEPER=worker: the background worker's retention pass.  Switch
# it on (with a 1 s interval, so that the pass starts at once), wait in the
# server until es.worker_status shows that pass finished, switch it off.
# The pass's start and end come from es.worker_status; the WAL positions
# are read just before the reload and as soon as the end is seen.
worker_sweep() {   # PREFIX
    local r0 i
    for ((i = 0; i < 300; i++)); do
        [[ -n $(q "SELECT worker_pid FROM es.worker_status WHERE pass = 'retention'") ]] && break
        sleep 0.1
    done
    ((i < 300)) || die "the event_streaming worker of database bench did not start (see $LOG)"
    r0=$(q "SELECT runs FROM es.worker_status WHERE pass = 'retention'")
    run_timed_do "$1" \
        -c "ALTER SYSTEM SET event_streaming.retention_interval = 1" \
        -c "ALTER SYSTEM SET event_streaming.retention = on" \
        -c "DO \$do\$
DECLARE
    l0 pg_lsn;
    l1 pg_lsn;
    t0 timestamptz;
    t1 timestamptz;
    e0 bigint;
    w  record;
BEGIN
    SELECT errors INTO e0 FROM es.worker_status WHERE pass = 'retention';
    l0 := pg_current_wal_insert_lsn();
    t0 := clock_timestamp();
    PERFORM pg_reload_conf();
    LOOP
        COMMIT;
        PERFORM pg_sleep(0.01);
        SELECT * INTO w FROM es.worker_status WHERE pass = 'retention';
        IF w.errors > e0 THEN
            RAISE EXCEPTION 'the retention pass failed: %', w.last_error;
        END IF;
        IF w.runs > $r0 + 1 THEN
            RAISE EXCEPTION 'missed the end of the retention pass (runs % -> %)', $r0, w.runs;
        END IF;
        EXIT WHEN w.runs = $r0 + 1 AND w.last_finish >= w.last_start;
        IF clock_timestamp() > t0 + interval '4 hours' THEN
            RAISE EXCEPTION 'the retention pass did not finish';
        END IF;
    END LOOP;
    l1 := pg_current_wal_insert_lsn();
    t1 := clock_timestamp();
    RAISE NOTICE 'bench-result start=% end=% lsn0=% lsn1=% lsn_t0=% lsn_t1=% rows=%',
        extract(epoch FROM w.last_start), extract(epoch FROM w.last_finish), l0, l1,
        extract(epoch FROM t0), extract(epoch FROM t1), w.last_affected;
END
\$do\$" \
        -c "ALTER SYSTEM RESET event_streaming.retention" \
        -c "ALTER SYSTEM RESET event_streaming.retention_interval" \
        -c "SELECT pg_reload_conf()"
    # the worker's steps are not visible from outside
    for i in steps step_p50_ms step_max_ms first_steps_ms last_steps_ms; do R[$1_$i]=-; done
}

# ES_BENCH_SWEEPER=loop: es.sweep_retention(max_rows => B) in a loop, COMMIT
# after each call, until one call removes fewer than B rows.
loop_sweep() {   # PREFIX
    run_timed_do "$1" -c "SET event_streaming.sweep_batch_size = $SWEEP_BATCH" -c "DO \$do\$
DECLARE
    b     CONSTANT bigint := $SWEEP_BATCH;
    n     bigint;
    total bigint := 0;
    t0    timestamptz;
    t1    timestamptz;
    l0    pg_lsn;
    l1    pg_lsn;
    d     float8[] := '{}';
    k     int;
    p50   float8;
    mx    float8;
    head  float8;
    tail  float8;
BEGIN
    l0 := pg_current_wal_insert_lsn();
    t0 := clock_timestamp();
    LOOP
        t1 := clock_timestamp();
        SELECT coalesce(sum(affected), 0) INTO n FROM es.sweep_retention(max_rows => b);
        COMMIT;
        d := d || extract(epoch FROM clock_timestamp() - t1)::float8;
        total := total + n;
        EXIT WHEN n < b;
    END LOOP;
    t1 := clock_timestamp();
    l1 := pg_current_wal_insert_lsn();
    k := greatest(1, cardinality(d) / 10);
    SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x), max(x) INTO p50, mx FROM unnest(d) x;
    SELECT avg(x) INTO head FROM unnest(d[1:k]) x;
    SELECT avg(x) INTO tail FROM unnest(d[cardinality(d) - k + 1:cardinality(d)]) x;
    RAISE NOTICE 'bench-result start=% end=% lsn0=% lsn1=% lsn_t0=% lsn_t1=% rows=% steps=% step_p50_ms=% step_max_ms=% first_steps_ms=% last_steps_ms=%',
        extract(epoch FROM t0), extract(epoch FROM t1), l0, l1, extract(epoch FROM t0), extract(epoch FROM t1),
        total, cardinality(d),
        round(p50::numeric * 1000, 2), round(mx::numeric * 1000, 2),
        round(head::numeric * 1000, 2), round(tail::numeric * 1000, 2);
END
\$do\$"
}

# The chunk drop: DROP TABLE of every partition, one per transaction.
drop_run() {   # PREFIX
    run_timed_do "$1" -c "DO \$do\$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    l0 pg_lsn;
    l1 pg_lsn;
    d  float8[] := '{}';
    p50 float8;
    mx  float8;
BEGIN
    l0 := pg_current_wal_insert_lsn();
    t0 := clock_timestamp();
    FOR k IN 0..$((PARTS - 1)) LOOP
        t1 := clock_timestamp();
        EXECUTE format('DROP TABLE bench_chunk_%s', k);
        COMMIT;
        d := d || extract(epoch FROM clock_timestamp() - t1)::float8;
    END LOOP;
    t1 := clock_timestamp();
    l1 := pg_current_wal_insert_lsn();
    SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x), max(x) INTO p50, mx FROM unnest(d) x;
    RAISE NOTICE 'bench-result start=% end=% lsn0=% lsn1=% lsn_t0=% lsn_t1=% rows=$EVENTS steps=% step_p50_ms=% step_max_ms=%',
        extract(epoch FROM t0), extract(epoch FROM t1), l0, l1, extract(epoch FROM t0), extract(epoch FROM t1),
        cardinality(d),
        round(p50::numeric * 1000, 2), round(mx::numeric * 1000, 2);
END
\$do\$"
    [[ $(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'bench_chunked'::regclass") == 0 ]] ||
        die "partitions left after the drop"
    q "DROP TABLE bench_chunked" >/dev/null
}

to_us() { awk -v x="$1" 'BEGIN{printf "%.0f", x * 1e6}'; }

# --- appends (pgbench -R in the background) ------------------------------------
cat >"$WORK/append.sql" <<EOF
\\set sid random(1, $NSTREAMS)
SELECT es.append('bench-' || :sid, 'Deposited', '$DATA_JSON'::jsonb);
EOF

start_appends() {   # KEY SECONDS
    rm -f "$WORK/$1".[0-9]*
    "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$JOBS" -R "$RATE" -T "$2" \
        -l --log-prefix="$WORK/$1" -f "$WORK/append.sql" bench >"$OUT/$1-pgbench.out" 2>&1 &
    APP_PID=$!
}

finish_appends() {   # KEY -> APP_TXNS (transactions pgbench processed)
    local rc=0
    wait "$APP_PID" || rc=$?
    APP_PID=
    {
        echo "== $1: pgbench -n -M prepared -c $CLIENTS -j $JOBS -R $RATE -l -f append.sql"
        cat "$OUT/$1-pgbench.out"
    } >>"$RESULT"
    ((rc == 0)) || { cat "$OUT/$1-pgbench.out" >&2; die "pgbench failed in $1"; }
    grep -q 'aborted' "$OUT/$1-pgbench.out" && { cat "$OUT/$1-pgbench.out" >&2; die "pgbench clients aborted in $1"; }
    APP_TXNS=$(awk -F': ' '/number of transactions actually processed/{split($2, a, "/"); print a[1]; exit}' \
        "$OUT/$1-pgbench.out")
    [[ -n $APP_TXNS ]] || die "no transaction count in the pgbench output of $1"
}

# Latency of the logged appends in a window, from pgbench's per-transaction
# log (client txn latency_us script epoch_s epoch_us lag_us): under -R the
# latency is measured from the scheduled start, so start = end - latency.
#   MODE overlap: transactions whose [start, end] overlaps [A, B)
#   MODE inside:  transactions with start >= A and end <= B
# -> "count p50_ms p99_ms max_ms completed_per_s" (completed: ends in [A, B))
window_stats() {   # KEY A_US B_US MODE
    local lat rate
    lat=$(awk -v a="$2" -v b="$3" -v mode="$4" '
            NF >= 6 && $3 ~ /^[0-9]+$/ {
                e = $5 * 1000000 + $6; s = e - $3
                if (mode == "overlap" ? (s < b && e > a) : (s >= a && e <= b)) print $3
            }' "$WORK/$1".[0-9]* |
        sort -n |
        awk '{ v[++n] = $1 }
             END {
                 if (n == 0) { print "0 - - -"; exit }
                 i50 = int(0.50 * n); if (i50 < 0.50 * n) i50++
                 i99 = int(0.99 * n); if (i99 < 0.99 * n) i99++
                 printf "%d %.3f %.3f %.3f\n", n, v[i50] / 1000, v[i99] / 1000, v[n] / 1000
             }')
    rate=$(awk -v a="$2" -v b="$3" '
            NF >= 6 && $3 ~ /^[0-9]+$/ { e = $5 * 1000000 + $6; if (e >= a && e < b) n++ }
            END { printf "%.0f", n / ((b - a) / 1e6) }' "$WORK/$1".[0-9]*)
    echo "$lat $rate"
}

# Per-second latency of all logged appends, seconds relative to T0_US.
timeline() {   # KEY T0_US FILE
    {
        echo "# $1: appends by second of completion, relative to the start of the measured work"
        echo "# sec  count  p50_ms  p99_ms  max_ms"
        awk -v t0="$2" 'NF >= 6 && $3 ~ /^[0-9]+$/ {
                e = $5 * 1000000 + $6; d = (e - t0) / 1e6; s = (d < 0 && d != int(d)) ? int(d) - 1 : int(d)
                print s, $3 }' "$WORK/$1".[0-9]* |
            sort -k1,1n -k2,2n |
            awk 'function flush() { if (n) { i = int(0.99 * n); if (i < 0.99 * n) i++; j = int(0.5 * n); if (j < 0.5 * n) j++
                                             printf "%5d %6d %7.3f %7.3f %7.3f\n", cur, n, v[j] / 1000, v[i] / 1000, v[n] / 1000 } }
                 $1 != cur && n { flush(); n = 0 }
                 { cur = $1; v[++n] = $2 }
                 END { flush() }'
    } >"$3"
}

# A measured piece of work (sweep or drop) under the append load: appends
# for WARMUP + BASE seconds, then the work, then appends until the planned
# end.  Sets <KEY>_* from the work's result, and the window figures.
under_load() {   # KEY WORK_FN EST_SECONDS
    local key=$1 fn=$2 est=$3 base during total m0 a b len ba bb lb0 tb0 ls0 ts0
    base=$(awk -v e="$est" -v s="$SLACK" -v m="$MINWIN" 'BEGIN{x = e * s; if (x < m) x = m; printf "%d", x + 2.999}')
    during=$(awk -v e="$est" -v s="$SLACK" -v m="$MINWIN" -v t="$TAIL" 'BEGIN{x = e * s; if (x < m) x = m; printf "%d", x + t + 0.999}')
    total=$((WARMUP + base + during))
    log "== $key: appends for $total s ($WARMUP s warm-up, $base s baseline, then the work, planned $during s)"
    m0=$(cpu_mark)
    start_appends "$key" "$total"
    sleep "$WARMUP"
    lb0=$(lsn)
    tb0=$(now_us)
    sleep "$base"
    ls0=$(lsn)
    ts0=$(now_us)
    "$fn" "$key"
    kill -0 "$APP_PID" 2>/dev/null ||
        NOTE[$key]+="the appends ended before the work did: the during window is not fully covered (raise ES_BENCH_SLACK); "
    finish_appends "$key"
    OTHER[$key]=$(other_cpu "$m0" "$(cpu_mark)")
    a=$(to_us "${R[${key}_start]}")
    b=$(to_us "${R[${key}_end]}")
    len=$((b - a))
    ((len >= MINWIN * 1000000)) || len=$((MINWIN * 1000000))
    ba=$((a - len))
    bb=$a
    if ((ba < tb0)); then
        ba=$tb0
        NOTE[$key]+="the baseline window is shorter than the work ($(div $((bb - ba)) 1000000 1) s; raise ES_BENCH_SLACK); "
    fi
    W[${key}_during]=$(window_stats "$key" "$a" $((a + len)) overlap)
    W[${key}_baseline]=$(window_stats "$key" "$ba" "$bb" inside)
    W[${key}_window_s]=$(div "$len" 1000000 2)
    W[${key}_baseline_s]=$(div $((bb - ba)) 1000000 2)
    W[${key}_wal]=$(lsn_diff "${R[${key}_lsn1]}" "${R[${key}_lsn0]}")
    # the appends' own WAL per second, from the baseline period (LSNs read
    # by this script, a few ms off the period's ends)
    W[${key}_append_wal_rate]=$(awk -v w="$(lsn_diff "$ls0" "$lb0")" -v a="$tb0" -v b="$ts0" 'BEGIN{printf "%.0f", w / ((b - a) / 1e6)}')
    W[${key}_secs]=$(div $((b - a)) 1000000 3)
    W[${key}_wal_secs]=$(awk -v a="${R[${key}_lsn_t0]}" -v b="${R[${key}_lsn_t1]}" 'BEGIN{printf "%.3f", b - a}')
    timeline "$key" "$a" "$OUT/$key-timeline.txt"
    log "$key: during window $((a))..$((a + len)) us: ${W[${key}_during]}; baseline window $ba..$bb: ${W[${key}_baseline]}"
}

field() { awk -v i="$2" '{print $i}' <<<"$1"; }
steps_desc() {   # PREFIX -> ", N steps (...)" when the loop measured them
    [[ ${R[$1_steps]} != - ]] || return 0
    echo ", ${R[$1_steps]} steps (median ${R[$1_step_p50_ms]} ms, max ${R[$1_step_max_ms]} ms;" \
        "first 10% avg ${R[$1_first_steps_ms]} ms, last 10% avg ${R[$1_last_steps_ms]} ms)"
}

declare -A OTHER NOTE W R
if [[ $SWEEPER == worker ]]; then
    SWEEP_DESC="the background worker's retention pass (steps of $SWEEP_BATCH rows, each its own transaction)"
else
    SWEEP_DESC="es.sweep_retention(max_rows => $SWEEP_BATCH) in a DO loop, COMMIT after each call"
fi

# --- header ----------------------------------------------------------------------
{
    echo "event_streaming retention benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "server: $("$PGBIN/postgres" --version)"
    echo "extension: $(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'"), $PKGLIB/event_streaming.so md5 $SO_MD5"
    echo "ES_BENCH_EVENTS=$EVENTS ES_BENCH_STREAMS=$NSTREAMS ES_BENCH_RATE=$RATE ES_BENCH_BATCH=$SWEEP_BATCH" \
        "ES_BENCH_CLIENTS=$CLIENTS ES_BENCH_JOBS=$JOBS ES_BENCH_PARTITIONS=$PARTS ES_BENCH_WARMUP=$WARMUP" \
        "ES_BENCH_SLACK=$SLACK ES_BENCH_MIN_WINDOW=$MINWIN"
    echo "settings (from pg_settings):"
    q "SELECT '  ' || name || ' = ' || current_setting(name)
         FROM pg_settings
        WHERE name IN ($SETTING_NAMES, 'autovacuum_naptime', 'autovacuum_vacuum_scale_factor',
                       'autovacuum_vacuum_threshold', 'event_streaming.sweep_batch_size',
                       'event_streaming.databases', 'event_streaming.retention',
                       'event_streaming.retention_interval', 'event_streaming.naptime')
        ORDER BY name"
    echo "es.events: $N_INDEXES indexes; retention: category 'bench', max_age 1 day; events 2 days old"
    echo "sweeper: $SWEEP_DESC"
    echo "appends: pgbench -R $RATE -c $CLIENTS -j $JOBS -M prepared: es.append('bench-' || random(1, $NSTREAMS), 'Deposited', <data>)"
    echo
} >"$RESULT"
cat "$RESULT"
echo "running: 4 loads of $EVENTS events, 2 sweeps, 2 chunk drops, 2 append runs at $RATE/s ..."

# --- 1a. the sweep alone -------------------------------------------------------------
echo "delete-based retention:"
load_events
settle
q "ALTER TABLE es.events SET (autovacuum_enabled = off)" >/dev/null
log "== sweep_alone: $SWEEP_DESC, no appends (autovacuum off on es.events)"
w0=$(wal_stats)
m0=$(cpu_mark)
sweep_run sweep_alone
OTHER[sweep_alone]=$(other_cpu "$m0" "$(cpu_mark)")
sleep 1.2   # pg_stat_wal of the other processes
w1=$(wal_stats)
[[ ${R[sweep_alone_rows]} == "$EVENTS" ]] || die "sweep_alone: ${R[sweep_alone_rows]} rows removed, expected $EVENTS"
[[ $(q "SELECT count(*) FROM es.events") == 0 ]] || die "sweep_alone: events left after the sweep"
[[ $(q "SELECT sum(truncated_before) FROM es.stream_catalog") == "$EVENTS" ]] ||
    die "sweep_alone: truncated_before does not add up to $EVENTS"
SA_SECS=$(awk -v a="${R[sweep_alone_start]}" -v b="${R[sweep_alone_end]}" 'BEGIN{printf "%.3f", b - a}')
SA_WAL=$(lsn_diff "${R[sweep_alone_lsn1]}" "${R[sweep_alone_lsn0]}")
SA_RECORDS=$(($(field "$w1" 1) - $(field "$w0" 1)))
SA_FPI=$(($(field "$w1" 2) - $(field "$w0" 2)))
SA_DEAD=$(q "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'es.events'::regclass")
SA_HEAP=$(q "SELECT pg_relation_size('es.events')")
say "alone: ${R[sweep_alone_rows]} rows in $SA_SECS s = $(div "$EVENTS" "$SA_SECS" 0) rows/s, WAL $(mb "$SA_WAL") MB" \
    "($SA_RECORDS records, $SA_FPI full-page images)$(steps_desc sweep_alone); others used ${OTHER[sweep_alone]}% CPU"
t0=$(date +%s%N)
l0=$(lsn)
vac=$(psql_ -d bench -c "VACUUM (VERBOSE) es.events" 2>&1) || { echo "$vac" >&2; die "VACUUM failed"; }
VAC_SECS=$(since "$t0" 3)
VAC_WAL=$(lsn_diff "$(lsn)" "$l0")
log "== VACUUM (VERBOSE) es.events after the sweep alone"
log "$vac"
q "ALTER TABLE es.events RESET (autovacuum_enabled)" >/dev/null
say "after it: $SA_DEAD dead tuples in es.events (heap $(mb "$SA_HEAP") MB); VACUUM es.events took $VAC_SECS s," \
    "WAL $(mb "$VAC_WAL") MB"

# --- 1b. the sweep under the append load --------------------------------------
load_events
settle
av0=$(q "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'es.events'::regclass")
under_load sweep sweep_run "$SA_SECS"
[[ ${R[sweep_rows]} == "$EVENTS" ]] || die "sweep: ${R[sweep_rows]} rows removed, expected $EVENTS"
sleep 1.2   # statistics of the last backends
SW_DEAD=$(q "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'es.events'::regclass")
SW_AV=$(($(q "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'es.events'::regclass") - av0))
SW_AV_NOW=$(q "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'es.events'::regclass")
# Every stream cut at a prefix, nothing expired left, one row per append.
bad=$(q "SELECT count(*) FROM (
           SELECT c.truncated_before AS tb, min(e.stream_offset) AS lo, max(e.stream_offset) AS hi,
                  count(e.stream_offset) AS n
             FROM es.stream_catalog c LEFT JOIN es.events e ON e.stream = c.stream
            GROUP BY c.stream, c.truncated_before) s
          WHERE n > 0 AND (lo <> tb OR hi - lo + 1 <> n)")
[[ $bad == 0 ]] || die "sweep: $bad streams are not a gapless suffix from truncated_before"
[[ $(q "SELECT count(*) FROM es.events WHERE created_at < now() - interval '1 day'") == 0 ]] ||
    die "sweep: expired events left"
[[ $(q "SELECT sum(truncated_before) FROM es.stream_catalog") == "$EVENTS" ]] ||
    die "sweep: truncated_before does not add up to $EVENTS"
rows=$(q "SELECT count(*) FROM es.events")
((rows == APP_TXNS)) || die "sweep: $rows events in es.events for $APP_TXNS appends"
SW_SECS=${W[sweep_secs]}
SW_RPS=$(div "$EVENTS" "$SW_SECS" 0)
SW_SHARE=$(awk -v w="${W[sweep_wal]}" -v r="${W[sweep_append_wal_rate]}" -v s="${W[sweep_wal_secs]}" 'BEGIN{printf "%.0f", w - r * s}')
say "under $RATE appends/s: ${R[sweep_rows]} rows in $SW_SECS s = $SW_RPS rows/s, WAL $(mb "${W[sweep_wal]}") MB" \
    "(appends alone write $(mb "${W[sweep_append_wal_rate]}") MB/s: about $(mb "$SW_SHARE") MB left for the sweep)$(steps_desc sweep);" \
    "others used ${OTHER[sweep]}% CPU"
say "append latency: baseline p50/p99/max $(field "${W[sweep_baseline]}" 2)/$(field "${W[sweep_baseline]}" 3)/$(field "${W[sweep_baseline]}" 4) ms" \
    "($(field "${W[sweep_baseline]}" 1) appends, $(field "${W[sweep_baseline]}" 5)/s), during the sweep" \
    "$(field "${W[sweep_during]}" 2)/$(field "${W[sweep_during]}" 3)/$(field "${W[sweep_during]}" 4) ms" \
    "($(field "${W[sweep_during]}" 1) appends, $(field "${W[sweep_during]}" 5)/s)"
say "after it: $SW_DEAD dead tuples in es.events; autovacuum of es.events: $SW_AV finished during the run," \
    "$SW_AV_NOW running at its end"

# --- 2a. chunk drop alone --------------------------------------------------------------
echo "chunk drop:"
seed_events
load_chunked
settle
log "== drop_alone: DROP TABLE of $PARTS partitions, one per transaction, no appends"
m0=$(cpu_mark)
drop_run drop_alone
OTHER[drop_alone]=$(other_cpu "$m0" "$(cpu_mark)")
DA_SECS=$(awk -v a="${R[drop_alone_start]}" -v b="${R[drop_alone_end]}" 'BEGIN{printf "%.3f", b - a}')
DA_WAL=$(lsn_diff "${R[drop_alone_lsn1]}" "${R[drop_alone_lsn0]}")
say "alone: $PARTS partitions ($EVENTS rows) in $DA_SECS s, WAL $(mb "$DA_WAL") MB ($DA_WAL bytes)," \
    "median ${R[drop_alone_step_p50_ms]} ms, max ${R[drop_alone_step_max_ms]} ms per DROP; others used ${OTHER[drop_alone]}% CPU"

# --- 2b. chunk drop under the append load ------------------------------------------
seed_events
load_chunked
settle
under_load drop drop_run "$DA_SECS"
rows=$(q "SELECT count(*) FROM es.events")
((rows == APP_TXNS + NSTREAMS)) || die "drop: $rows events in es.events for $APP_TXNS appends + $NSTREAMS seeds"
DR_SECS=${W[drop_secs]}
DR_SHARE=$(awk -v w="${W[drop_wal]}" -v r="${W[drop_append_wal_rate]}" -v s="${W[drop_wal_secs]}" 'BEGIN{printf "%.0f", w - r * s}')
say "under $RATE appends/s: $PARTS partitions in $DR_SECS s, WAL $(mb "${W[drop_wal]}") MB (appends included;" \
    "about $(mb "$DR_SHARE") MB left for the drops), max ${R[drop_step_max_ms]} ms per DROP; others used ${OTHER[drop]}% CPU"
say "append latency: baseline p50/p99/max $(field "${W[drop_baseline]}" 2)/$(field "${W[drop_baseline]}" 3)/$(field "${W[drop_baseline]}" 4) ms" \
    "($(field "${W[drop_baseline]}" 1) appends), during the drops (window ${W[drop_window_s]} s)" \
    "$(field "${W[drop_during]}" 2)/$(field "${W[drop_during]}" 3)/$(field "${W[drop_during]}" 4) ms" \
    "($(field "${W[drop_during]}" 1) appends)"

# --- report --------------------------------------------------------------------------------
SW_RATIO=$(div "$(field "${W[sweep_during]}" 3)" "$(field "${W[sweep_baseline]}" 3)" 2)
DR_RATIO=$(div "$(field "${W[drop_during]}" 3)" "$(field "${W[drop_baseline]}" 3)" 2)
KEEPS_UP=$(awk -v r="$SW_RPS" -v t="$RATE" 'BEGIN{print (r > t ? "yes" : "no")}')
row() { printf '%-46s %18s %18s\n' "$@"; }
{
    echo
    echo "delete-based retention: $SWEEP_DESC;"
    echo "  $EVENTS expired events of $NSTREAMS streams; appends: es.append at $RATE/s to the same streams"
    row "" "alone" "under appends"
    row "sweep wall time (s)" "$SA_SECS" "$SW_SECS"
    row "rows deleted per second" "$(div "$EVENTS" "$SA_SECS" 0)" "$SW_RPS"
    row "WAL (MB; under appends: theirs included)" "$(mb "$SA_WAL")" "$(mb "${W[sweep_wal]}")"
    row "  WAL left for the sweep (MB, estimate)" "" "$(mb "$SW_SHARE")"
    row "  WAL records / full-page images" "$SA_RECORDS / $SA_FPI" ""
    if [[ ${R[sweep_steps]} != - ]]; then
        row "steps; median / max step (ms)" "${R[sweep_alone_steps]}; ${R[sweep_alone_step_p50_ms]} / ${R[sweep_alone_step_max_ms]}" \
            "${R[sweep_steps]}; ${R[sweep_step_p50_ms]} / ${R[sweep_step_max_ms]}"
        row "  first / last 10% of steps, avg (ms)" "${R[sweep_alone_first_steps_ms]} / ${R[sweep_alone_last_steps_ms]}" \
            "${R[sweep_first_steps_ms]} / ${R[sweep_last_steps_ms]}"
    fi
    row "append p99, baseline (ms)" "" "$(field "${W[sweep_baseline]}" 3)"
    row "append p99, during the sweep (ms)" "" "$(field "${W[sweep_during]}" 3)"
    row "  appends in the windows (baseline/during)" "" "$(field "${W[sweep_baseline]}" 1) / $(field "${W[sweep_during]}" 1)"
    row "  completed appends/s (baseline/during)" "" "$(field "${W[sweep_baseline]}" 5) / $(field "${W[sweep_during]}" 5)"
    row "dead tuples in es.events afterwards" "$SA_DEAD" "$SW_DEAD"
    row "VACUUM es.events afterwards (s / WAL MB)" "$VAC_SECS / $(mb "$VAC_WAL")" ""
    row "autovacuums of es.events (done / running)" "held off" "$SW_AV / $SW_AV_NOW"
    echo
    echo "chunk drop: DROP TABLE of $PARTS partitions of $((EVENTS / PARTS)) rows (LIKE es.events INCLUDING ALL), one per transaction;"
    echo "  appends: es.append into es.events at $RATE/s (not into the partitioned table)"
    row "" "alone" "under appends"
    row "drop wall time (s)" "$DA_SECS" "$DR_SECS"
    row "WAL (MB; under appends: theirs included)" "$(mb "$DA_WAL")" "$(mb "${W[drop_wal]}")"
    row "  WAL left for the drops (MB, estimate)" "" "$(mb "$DR_SHARE")"
    row "max DROP TABLE (ms)" "${R[drop_alone_step_max_ms]}" "${R[drop_step_max_ms]}"
    row "append p99, baseline (ms)" "" "$(field "${W[drop_baseline]}" 3)"
    row "append p99, during the drops (ms)" "" "$(field "${W[drop_during]}" 3)"
    row "  window (s); appends (baseline/during)" "" "${W[drop_window_s]}; $(field "${W[drop_baseline]}" 1) / $(field "${W[drop_during]}" 1)"
    echo
    echo "sweep_alone_seconds=$SA_SECS"
    echo "sweep_alone_rows_per_s=$(div "$EVENTS" "$SA_SECS" 0)"
    echo "sweep_alone_wal_bytes=$SA_WAL"
    echo "sweep_seconds=$SW_SECS"
    echo "sweep_rows_per_s=$SW_RPS"
    echo "sweep_wal_bytes=${W[sweep_wal]}"
    echo "sweep_wal_bytes_without_appends_est=$SW_SHARE"
    echo "sweep_append_p99_baseline_ms=$(field "${W[sweep_baseline]}" 3)"
    echo "sweep_append_p99_during_ms=$(field "${W[sweep_during]}" 3)"
    echo "sweep_p99_ratio=$SW_RATIO"
    echo "sweep_keeps_up=$KEEPS_UP"
    echo "sweep_dead_tuples_after=$SW_DEAD"
    echo "vacuum_after_seconds=$VAC_SECS"
    echo "vacuum_after_wal_bytes=$VAC_WAL"
    echo "drop_alone_seconds=$DA_SECS"
    echo "drop_alone_wal_bytes=$DA_WAL"
    echo "drop_seconds=$DR_SECS"
    echo "drop_wal_bytes=${W[drop_wal]}"
    echo "drop_append_p99_baseline_ms=$(field "${W[drop_baseline]}" 3)"
    echo "drop_append_p99_during_ms=$(field "${W[drop_during]}" 3)"
    echo "drop_p99_ratio=$DR_RATIO"
    echo "targets: sweep_p99_ratio <= 2, sweep_rows_per_s > $RATE (deletes keep up with the appends)"
    for k in "${!NOTE[@]}"; do
        [[ -z ${NOTE[$k]} ]] || echo "WARNING: $k: ${NOTE[$k]}"
    done
    report_other_cpu
} | tee -a "$RESULT"
note_so_changed
echo "raw figures: $RESULT; latency by second: $OUT/sweep-timeline.txt, $OUT/drop-timeline.txt"
