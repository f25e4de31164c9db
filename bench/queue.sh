#!/usr/bin/env bash
# bench/queue.sh -- the message queue of event_streaming against plain
# PostgreSQL patterns and PgQ.
#
#   make install && bench/queue.sh
#   BENCH_ONLY_BASELINE=1 bench/queue.sh     (baselines only: no queue API needed)
#
# Starts a throwaway cluster in bench/out/queue/data (unix socket only, same
# settings as bench/run.sh, see bench/lib.sh), and in the same run measures:
#
#   1. dequeue + ack, each in its own transaction (at-least-once, as users
#      run it), pgbench -M prepared -T, from a prefilled backlog:
#        product  SELECT * FROM es.dequeue('bench', 'c' || :client_id)   then
#                 SELECT es.ack('bench', :message_id, :receipt)
#                 (one message per call, the queue's default visibility
#                 timeout, 30 s; each session its own consumer name)
#        pgmq     the SQL of pgmq.read and pgmq.delete (below), run directly
#                 on a table created the way pgmq.create creates one
#        PgQ      pgq.next_batch; pgq.get_batch_events; pgq.finish_batch
#                 (next_batch and finish_batch each commit), one consumer
#      at BENCH_CLIENTS consumers (pgmq and product); PgQ at 1 consumer only
#      (see "PgQ" below).
#   2. enqueue, pgbench -M prepared -T, at BENCH_CLIENTS clients:
#        es.enqueue('bench', <payload>)  vs  INSERT of the same row into
#        bench_raw_msg (LIKE es.messages INCLUDING ALL, same storage options)
#   3. wake-up latency of a consumer blocked in es.dequeue(..., wait => ...)
#      when a producer commits one enqueue (bench/wakeup_latency.c, built
#      here with cc and libpq), next to LISTEN/NOTIFY + the pgmq read.
#
# Prints a table and key=value lines, writes raw figures to
# bench/out/queue/last-run.txt, and stops the cluster on exit.  Installs
# nothing and never touches a system cluster.
#
# pgmq: the statements are those of pgmq.read / pgmq.delete / pgmq.send in
# pgmq-extension/sql/pgmq.sql of github.com/pgmq/pgmq (read via the search
# tool, file at commit 03201fb1): the table (msg_id bigint identity primary
# key, read_ct, enqueued_at, vt, message jsonb, headers jsonb, index on vt),
# the read
#     WITH cte AS (SELECT msg_id FROM q WHERE vt <= clock_timestamp()
#                  ORDER BY msg_id ASC LIMIT $qty FOR UPDATE SKIP LOCKED)
#     UPDATE q m SET vt = clock_timestamp() + <vt>, read_ct = read_ct + 1
#       FROM cte WHERE m.msg_id = cte.msg_id
#     RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers
# (its "conditional" filter is a constant true for the default '{}', left
# out) and the delete  DELETE FROM q WHERE msg_id = $1 RETURNING msg_id.
# pgmq runs them through PL/pgSQL EXECUTE, i.e. re-planned on every call;
# here they are plain prepared statements, which is faster: the baseline is
# the pattern at its best, not pgmq's wrapper.
#
# PgQ (postgresql-15-pgq3, 3.5): each consumer registered on a queue gets
# every event (fan-out), so 8 sessions under 8 consumer names would each
# consume its own copy -- not 8 competing consumers; and sessions sharing
# one consumer name all get the same active batch (next_batch returns it
# again until finish_batch), so they would duplicate work, not share it.
# Competing consumers need pgq_coop (sub-consumers), which is not packaged
# for this system (apt has postgresql-15-pgq3 and -pgq-node only).  PgQ is
# therefore measured at ONE consumer only.  Its batches are the events between two ticks.  The backlog
# is prefilled so that every tick closes exactly BATCH events (BATCH events
# committed, then pgq.ticker() in its own transaction, with
# ticker_max_count = 1), so no ticker runs during the measurement (its cost
# is not counted, which favours PgQ slightly).  Two figures:
#   * PgQ batch=1: one event per batch, i.e. per next_batch/finish_batch pair,
#     the like-for-like counterpart of dequeue(max_messages => 1) + ack; the
#     product/PgQ ratio uses this one;
#   * PgQ batch=BENCH_PGQ_BATCH (default 100, information only): PgQ as it
#     is meant to be used, timed over a fixed backlog (pgbench -t), no ratio
#     target -- the product dequeues one message per call here.
#
# Wake-up latency: see bench/wakeup_latency.c.  One client process holds both
# connections and times everything with one monotonic clock: t0 = enqueue
# sent, t1 = the producer's autocommit enqueue acknowledged (after COMMIT),
# t2 = the message in the consumer's hands.  The headline figure is t2 - t1
# (commit acknowledged -> consumer has it); t2 - t0 is also reported (it adds
# the enqueue's execution and WAL flush).  t2 - t1 can be slightly negative
# (the consumer's reply may overtake the producer's): the minimum is in
# last-run.txt, the raw samples in bench/out/queue/latency-*.raw.  A random
# gap of BENCH_LAT_GAP_MIN..BENCH_LAT_GAP_MAX ms before each enqueue makes
# sure the consumer is asleep in es.dequeue (checked: the program stops if
# the dequeue returned before the enqueue).  The product's consumer is
# es.dequeue('lat', 'c', wait => '5 seconds') + es.ack; the baseline is a
# LISTENing session that runs the pgmq read when NOTIFY (sent by the
# enqueue's transaction) arrives, then deletes.
#
# Environment:
#   BENCH_SECONDS        seconds per pgbench -T run                 (default 30)
#   BENCH_CLIENTS        consumer / producer counts                 (default "1 8")
#   BENCH_SYNC_MODES     synchronous_commit values to measure       (default "on")
#   BENCH_PREFILL        backlog of the pgmq and product dequeue runs, and of
#                        PgQ batch=N, messages  (default 20000 x BENCH_SECONDS; x2 when
#                        synchronous_commit is not on)
#   BENCH_PGQ_PREFILL    backlog of PgQ batch=1, events (default 5000 x BENCH_SECONDS; x2
#                        when synchronous_commit is not on)
#   BENCH_PGQ_BATCH      PgQ batch size of the batched run, 0 = skip (default 100)
#   BENCH_LAT_SAMPLES    wake-up latency samples                    (default 1000)
#   BENCH_LAT_GAP_MIN/MAX  gap before each enqueue, ms              (default 1 / 20)
#   BENCH_ONLY_BASELINE  set to 1 to run only the baselines (pgmq, PgQ, INSERT,
#                        LISTEN/NOTIFY), e.g. before the queue API is installed
#   BENCH_PORT           port of the throwaway server               (default 54343)
#   BENCH_KEEP           set to keep bench/out/queue/data after a successful run
#   PG_CONFIG            pg_config of the server to use             (default: first in PATH)
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out/queue
RESULT=$OUT/last-run.txt
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "bench: $1 must be a positive integer" >&2; exit 1; }; }
SECS=${BENCH_SECONDS:-30};                    posint BENCH_SECONDS "$SECS"
CLIENTS=${BENCH_CLIENTS:-1 8}
SYNC_MODES=${BENCH_SYNC_MODES:-on}
[[ -z ${BENCH_PREFILL:-} ]] || posint BENCH_PREFILL "$BENCH_PREFILL"
[[ -z ${BENCH_PGQ_PREFILL:-} ]] || posint BENCH_PGQ_PREFILL "$BENCH_PGQ_PREFILL"
# Backlogs: about 2-3 x what the fastest run drains in BENCH_SECONDS on a
# small machine; twice that for synchronous_commit=off.  A run that drains
# its backlog is flagged (its figure is then a lower bound).
prefill_for() {   # SYNC -> messages of the pgmq/product backlogs
    if [[ -n ${BENCH_PREFILL:-} ]]; then echo "$BENCH_PREFILL"
    elif [[ $1 == on ]]; then echo $((20000 * SECS))
    else echo $((40000 * SECS)); fi
}
pgq_prefill_for() {   # SYNC -> events of the PgQ batch=1 backlog
    if [[ -n ${BENCH_PGQ_PREFILL:-} ]]; then echo "$BENCH_PGQ_PREFILL"
    elif [[ $1 == on ]]; then echo $((5000 * SECS))
    else echo $((10000 * SECS)); fi
}
PGQ_BATCH=${BENCH_PGQ_BATCH:-100}
[[ $PGQ_BATCH =~ ^[0-9]+$ ]] || { echo "bench: BENCH_PGQ_BATCH must be an integer" >&2; exit 1; }
LAT_SAMPLES=${BENCH_LAT_SAMPLES:-1000};       posint BENCH_LAT_SAMPLES "$LAT_SAMPLES"
LAT_GAP_MIN=${BENCH_LAT_GAP_MIN:-1};          posint BENCH_LAT_GAP_MIN "$LAT_GAP_MIN"
LAT_GAP_MAX=${BENCH_LAT_GAP_MAX:-20};         posint BENCH_LAT_GAP_MAX "$LAT_GAP_MAX"
ONLY_BASELINE=${BENCH_ONLY_BASELINE:-}
[[ $ONLY_BASELINE == "0" ]] && ONLY_BASELINE=
# shellcheck disable=SC2034  # used by lib.sh
PORT=${BENCH_PORT:-54343}
for c in $CLIENTS; do posint BENCH_CLIENTS "$c"; done

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAYLOAD='{"order": 42, "note": "benchmark message"}'

command -v "${CC:-cc}" >/dev/null 2>&1 || die "no C compiler (cc) for bench/wakeup_latency.c; set CC"
start_cluster_pinned

"${CC:-cc}" -O2 -Wall -o "$WORK/wakeup_latency" "$BENCH_DIR/wakeup_latency.c" \
    -I"$("$PG_CONFIG" --includedir)" -L"$("$PG_CONFIG" --libdir)" -lpq ||
    die "could not build bench/wakeup_latency.c (needs libpq-dev)"

# --- schema ------------------------------------------------------------------------
psql_ -d bench >/dev/null <<SQL
CREATE EXTENSION event_streaming;
CREATE EXTENSION pgq;
$PGMQ_TABLE_SQL
CREATE TABLE bench_pgmq_lat (LIKE bench_pgmq INCLUDING ALL);
SQL

PRODUCT=1
if [[ -z $(q "SELECT to_regprocedure('es.dequeue(text,text,interval,integer,interval)')") ]]; then
    PRODUCT=0
    [[ -n $ONLY_BASELINE ]] ||
        die "the queue API (event_streaming 0.2.0: es.dequeue...) is not installed" \
            "(extension version $(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'"));" \
            "run 'make install', or set BENCH_ONLY_BASELINE=1 to measure the baselines only"
fi
[[ -n $ONLY_BASELINE ]] && PRODUCT=0

# bench_raw_msg: every column, default, constraint and index of es.messages,
# and its storage options (fillfactor, autovacuum), which LIKE does not copy.
# message_id comes from a sequence of its own, as es.enqueue takes it from
# es.message_id_seq.  Without the queue API installed (baseline-only runs),
# es.messages is taken from the upgrade script in the source tree.
if [[ -n $(q "SELECT to_regclass('es.messages')") ]]; then
    SHAPE=es.messages
else
    SHAPE=bench_msg_shape
    sqlfile=$BENCH_DIR/../sql/event_streaming--0.1.0--0.2.0.sql
    [[ -f $sqlfile ]] || die "es.messages is not installed and $sqlfile is missing"
    awk '/^CREATE (TABLE|INDEX)[^;]* es\.messages[ (]/ {on = 1} on {print} on && /;/ {on = 0}' "$sqlfile" |
        sed -e 's/es\.messages/bench_msg_shape/g' -e 's/^CREATE INDEX messages_/CREATE INDEX bench_msg_shape_/' |
        psql_ -d bench >/dev/null || die "could not create bench_msg_shape from $sqlfile"
fi
psql_ -d bench >/dev/null <<SQL
CREATE SEQUENCE bench_raw_msg_seq AS bigint;
CREATE TABLE bench_raw_msg (LIKE $SHAPE INCLUDING ALL);
SQL
relopts=$(q "SELECT array_to_string(reloptions, ', ') FROM pg_class WHERE oid = '$SHAPE'::regclass")
[[ -z $relopts ]] || q "ALTER TABLE bench_raw_msg SET ($relopts)" >/dev/null
[[ $(index_shape bench_raw_msg) == "$(index_shape $SHAPE)" ]] ||
    die "bench_raw_msg does not have the indexes of $SHAPE"
N_INDEXES=$(q "SELECT count(*) FROM pg_index WHERE indrelid = '$SHAPE'::regclass")
if ((PRODUCT)); then
    q "SELECT es.create_queue('bench'), es.create_queue('lat')" >/dev/null
    VT=$(q "SELECT visibility_timeout FROM es.queues WHERE queue = 'bench'")
fi

# --- workload files ----------------------------------------------------------------
# Each statement is its own transaction (no BEGIN/END).  \aset leaves the
# variables alone when no row comes back, so resetting the id first turns
# "queue drained" into a skipped ack instead of an error; drained runs are
# detected afterwards (fewer messages gone than scripts run).
cat >"$WORK/deq_product.sql" <<'EOF'
\set message_id 0
SELECT * FROM es.dequeue('bench', 'c' || :client_id) \aset
\if :message_id > 0
SELECT es.ack('bench', :message_id, :receipt);
\endif
EOF
cat >"$WORK/deq_pgmq.sql" <<'EOF'
\set msg_id 0
WITH cte AS (SELECT msg_id FROM bench_pgmq WHERE vt <= clock_timestamp() ORDER BY msg_id ASC LIMIT 1 FOR UPDATE SKIP LOCKED) UPDATE bench_pgmq m SET vt = clock_timestamp() + interval '30 seconds', read_ct = read_ct + 1 FROM cte WHERE m.msg_id = cte.msg_id RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers \aset
\if :msg_id > 0
DELETE FROM bench_pgmq WHERE msg_id = :msg_id RETURNING msg_id;
\endif
EOF
# pgq: the events of the batch come to the client (and are dropped there).
cat >"$WORK/deq_pgq.sql" <<'EOF'
\set batch_id 0
SELECT b AS batch_id FROM pgq.next_batch('bench_pgq', 'c1') b WHERE b IS NOT NULL \aset
\if :batch_id > 0
SELECT * FROM pgq.get_batch_events(:batch_id);
SELECT pgq.finish_batch(:batch_id);
\endif
EOF
cat >"$WORK/enq_product.sql" <<EOF
SELECT es.enqueue('bench', '$PAYLOAD');
EOF
# The row es.enqueue writes: id, queue, available_at = enqueued_at = now()
# (no delay), the payload; delivery_count from its default, the rest NULL.
cat >"$WORK/enq_insert.sql" <<EOF
INSERT INTO bench_raw_msg (message_id, queue_id, available_at, enqueued_at, payload) VALUES (nextval('bench_raw_msg_seq'), 1, now(), now(), '$PAYLOAD'::jsonb) RETURNING message_id;
EOF

# --- state -------------------------------------------------------------------------
# Every measurement starts from the same kind of state: its table emptied
# (TRUNCATE), the backlog it needs written in big transactions, then a
# database-wide VACUUM ANALYZE and a CHECKPOINT.  Prefills run with
# synchronous_commit=off (they are not measured).
settle() {
    local t0
    t0=$(date +%s%N)
    psql_ -d bench -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
    echo "   (VACUUM ANALYZE + CHECKPOINT: $(since "$t0") s)" >>"$RESULT"
}
since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b - a) / 1e9}'; }

empty_all() {
    local t="bench_pgmq, bench_pgmq_lat, bench_raw_msg"
    ((PRODUCT)) && t+=", es.messages, es.dead_letter_messages"
    q "TRUNCATE $t RESTART IDENTITY" >/dev/null
}

prefill_pgmq() {   # N: as pgmq.send_batch does it
    local t0
    t0=$(date +%s%N)
    empty_all
    PGOPTIONS="-c synchronous_commit=off" psql_ -d bench -c \
        "INSERT INTO bench_pgmq (vt, message, headers) SELECT clock_timestamp(), '$PAYLOAD'::jsonb, NULL FROM generate_series(1, $1)" \
        >/dev/null
    echo "-- prefill: $1 messages into bench_pgmq in $(since "$t0") s" >>"$RESULT"
    settle
}

prefill_product() {   # N: es.enqueue_batch, 10000 messages a call
    local n=$1 k t0
    t0=$(date +%s%N)
    empty_all
    while ((n > 0)); do
        k=$((n < 10000 ? n : 10000))
        echo "SELECT count(*) FROM es.enqueue_batch('bench', array_fill('$PAYLOAD'::jsonb, ARRAY[$k]));"
        n=$((n - k))
    done | PGOPTIONS="-c synchronous_commit=off" psql_ -d bench >/dev/null
    echo "-- prefill: $1 messages with es.enqueue_batch in $(since "$t0") s" >>"$RESULT"
    settle
}

prefill_pgq() {   # N BATCH: a fresh queue whose every tick closes BATCH events
    local n=$1 b=$2 t0
    t0=$(date +%s%N)
    psql_ -d bench >/dev/null <<SQL
SELECT pgq.unregister_consumer('bench_pgq', 'c1'), pgq.drop_queue('bench_pgq', true)
  FROM pgq.queue WHERE queue_name = 'bench_pgq';
SELECT pgq.create_queue('bench_pgq');
SELECT pgq.set_queue_config('bench_pgq', 'ticker_max_count', '1');
SQL
    # DO with COMMIT needs its own top-level statement (psql -c, one each).
    # A first event and tick before the consumer registers: the first tick of
    # a new queue records its event sequence before any nextval (1, not 0),
    # which would put pending_events one off.
    PGOPTIONS="-c synchronous_commit=off" psql_ -d bench -c "DO \$\$
BEGIN
    PERFORM pgq.insert_event('bench_pgq', 'warm-up', '{}');
    COMMIT;
    PERFORM pgq.ticker('bench_pgq');
    COMMIT;
    PERFORM pgq.register_consumer('bench_pgq', 'c1');
    COMMIT;
    FOR i IN 1..$((n / b)) LOOP
        PERFORM pgq.insert_event('bench_pgq', 'msg', '$PAYLOAD') FROM generate_series(1, $b);
        COMMIT;
        IF pgq.ticker('bench_pgq') IS NULL THEN
            RAISE EXCEPTION 'pgq.ticker did not tick';
        END IF;
        COMMIT;
        -- pgq.ticker finds the last tick with an index scan only if the
        -- statistics of pgq.tick are not those of an empty table (as left
        -- by the previous VACUUM ANALYZE); else it scans it, and the prefill
        -- turns quadratic.
        IF i % 500 = 0 THEN
            ANALYZE pgq.tick;
            COMMIT;
        END IF;
    END LOOP;
END \$\$" >/dev/null
    [[ $(q "$PGQ_PENDING_SQL") == $(((n / b) * b)) ]] ||
        die "PgQ prefill: $(q "$PGQ_PENDING_SQL") events pending, expected $(((n / b) * b))"
    echo "-- prefill: $(((n / b) * b)) PgQ events, $b per tick, in $(since "$t0") s" >>"$RESULT"
    settle
}
PGQ_PENDING_SQL="SELECT pending_events FROM pgq.get_consumer_info('bench_pgq', 'c1')"

declare -A R       # messages/s (or events/s) per key
declare -A OTHER   # CPU used by other processes during the run, %
declare -A NOTE    # "drained" etc.
declare -A L       # latency figures

# run_pgbench KEY SCRIPT CLIENTS SYNC KIND UNIT COUNT_SQL PGBENCH_ARGS...
#   KIND dequeue: messages gone = COUNT before - COUNT after; UNIT messages
#   per script run; fewer gone than scripts x UNIT means the backlog ran out.
#   KIND enqueue: rows written = COUNT after - COUNT before, exactly one per
#   script run.  R[KEY] = messages / pgbench's measured duration.
run_pgbench() {
    local key=$1 script=$2 c=$3 sync=$4 kind=$5 unit=$6 count=$7 out tps txns n0 n1 n m0 secs
    shift 7
    n0=$(q "$count")
    echo "== $key: pgbench -c $c -j $c $* -M prepared -n -f $(basename "$script")" \
        "(synchronous_commit=$sync; $n0 before)" >>"$RESULT"
    m0=$(cpu_mark)
    out=$(PGOPTIONS="-c synchronous_commit=$sync" "$PGBIN/pgbench" -n -M prepared \
        -c "$c" -j "$c" "$@" -f "$script" bench 2>&1) ||
        { echo "$out" >&2; die "pgbench failed for $key"; }
    sleep 0.2   # let the postmaster reap the backends
    OTHER[$key]=$(other_cpu "$m0" "$(cpu_mark)")
    echo "$out" >>"$RESULT"
    grep -q 'aborted' <<<"$out" && { echo "$out" >&2; die "pgbench clients aborted in $key"; }
    tps=$(awk '/^tps = /{print $3; exit}' <<<"$out")
    txns=$(awk -F': ' '/number of transactions actually processed/{split($2, a, "/"); print a[1]; exit}' <<<"$out")
    if [[ -z $tps || -z $txns ]] || ((txns == 0)); then die "no tps in pgbench output for $key"; fi
    n1=$(q "$count")
    if [[ $kind == dequeue ]]; then n=$((n0 - n1)); else n=$((n1 - n0)); fi
    secs=$(awk -v t="$txns" -v r="$tps" 'BEGIN{printf "%.6f", t / r}')
    R[$key]=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.1f", n / s}')
    NOTE[$key]=""
    if ((n > txns * unit)); then
        die "$key: $n messages for $txns scripts of $unit"
    elif ((n < txns * unit)); then
        [[ $kind == dequeue ]] || die "$key: $n rows written for $txns transactions"
        NOTE[$key]="drained"
        echo "WARNING: $key: the backlog ran out ($n messages for $txns script runs);" \
            "the figure is a lower bound -- raise BENCH_PREFILL / BENCH_PGQ_PREFILL" | tee -a "$RESULT" >&2
    fi
    echo "messages: $n in $secs s = ${R[$key]}/s (script runs: $txns, $unit message(s) each);" \
        "CPU used by other processes: ${OTHER[$key]}% of the machine" >>"$RESULT"
}

# run_latency KEY MODE SYNC -> L[KEY_*]
run_latency() {
    local key=$1 mode=$2 sync=$3 out m0 k v
    empty_all
    settle
    echo "== $key: wakeup_latency $mode $LAT_SAMPLES ${LAT_GAP_MIN}..${LAT_GAP_MAX} ms" \
        "(synchronous_commit=$sync)" >>"$RESULT"
    m0=$(cpu_mark)
    out=$(PGOPTIONS="-c synchronous_commit=$sync" "$WORK/wakeup_latency" "$mode" "$LAT_SAMPLES" \
        "$LAT_GAP_MIN" "$LAT_GAP_MAX" "$OUT/latency-$key.raw" 2>&1) ||
        { echo "$out" >&2; die "wakeup_latency failed for $key"; }
    OTHER[$key]=$(other_cpu "$m0" "$(cpu_mark)")
    echo "$out" >>"$RESULT"
    echo "raw samples (t0 t1 t2, us): $OUT/latency-$key.raw;" \
        "CPU used by other processes: ${OTHER[$key]}% of the machine" >>"$RESULT"
    while IFS='=' read -r k v; do
        [[ $k == *_ms ]] && L[${key}_$k]=$v
    done <<<"$out"
}

ratio() { awk -v p="$1" -v b="$2" 'BEGIN{printf "%.2f", p / b}'; }
say() { echo "  $*"; }

# --- header --------------------------------------------------------------------------
{
    echo "event_streaming queue benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "server: $("$PGBIN/postgres" --version)"
    echo "extension: $(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'"), $PKGLIB/event_streaming.so md5 $SO_MD5"
    if ((PRODUCT)); then
        echo "product: measured (queue 'bench', visibility timeout $VT)"
    else
        echo "product: NOT measured (BENCH_ONLY_BASELINE or no queue API): baselines only"
    fi
    echo "pgq: $(q "SELECT extversion FROM pg_extension WHERE extname = 'pgq'"); pgq_coop:" \
        "$(q "SELECT coalesce(max(default_version), 'not available') FROM pg_available_extensions WHERE name = 'pgq_coop'")"
    echo "BENCH_SECONDS=$SECS BENCH_CLIENTS='$CLIENTS' BENCH_SYNC_MODES='$SYNC_MODES'" \
        "BENCH_PREFILL=${BENCH_PREFILL:-auto} BENCH_PGQ_PREFILL=${BENCH_PGQ_PREFILL:-auto}" \
        "BENCH_PGQ_BATCH=$PGQ_BATCH BENCH_LAT_SAMPLES=$LAT_SAMPLES" \
        "gap ${LAT_GAP_MIN}..${LAT_GAP_MAX} ms"
    echo "payload: $PAYLOAD"
    echo "settings (from pg_settings):"
    q "SELECT '  ' || name || ' = ' || current_setting(name)
         FROM pg_settings
        WHERE name IN ($SETTING_NAMES)
        ORDER BY name"
    echo "  (synchronous_commit is set per client through PGOPTIONS for each run below)"
    echo "bench_raw_msg: LIKE $SHAPE INCLUDING ALL + its storage options ($relopts), $N_INDEXES indexes, identical definitions"
    echo
} >"$RESULT"
cat "$RESULT"

# --- the workloads -------------------------------------------------------------------
for sync in $SYNC_MODES; do
    echo "synchronous_commit=$sync:"
    PREFILL=$(prefill_for "$sync")
    PGQ_PREFILL=$(pgq_prefill_for "$sync")
    PGQ_BATCH_EVENTS=$((PGQ_BATCH > 0 ? PREFILL / PGQ_BATCH * PGQ_BATCH : 0))
    for c in $CLIENTS; do
        prefill_pgmq "$PREFILL"
        run_pgbench "pgmq_${c}c_$sync" "$WORK/deq_pgmq.sql" "$c" "$sync" dequeue 1 \
            "SELECT count(*) FROM bench_pgmq" -T "$SECS"
        say "dequeue+ack, $c consumer(s): pgmq pattern ${R[pgmq_${c}c_$sync]} msg/s ${NOTE[pgmq_${c}c_$sync]} (others used ${OTHER[pgmq_${c}c_$sync]}% CPU)"
        if ((PRODUCT)); then
            prefill_product "$PREFILL"
            run_pgbench "deq_${c}c_$sync" "$WORK/deq_product.sql" "$c" "$sync" dequeue 1 \
                "SELECT count(*) FROM es.messages" -T "$SECS"
            say "dequeue+ack, $c consumer(s): es.dequeue+es.ack ${R[deq_${c}c_$sync]} msg/s ${NOTE[deq_${c}c_$sync]} (others used ${OTHER[deq_${c}c_$sync]}% CPU)"
        fi
    done
    # PgQ, one consumer (see the header): the events still pending for it
    # before and after tell how many it consumed.
    prefill_pgq "$PGQ_PREFILL" 1
    run_pgbench "pgq_1c_$sync" "$WORK/deq_pgq.sql" 1 "$sync" dequeue 1 "$PGQ_PENDING_SQL" -T "$SECS"
    say "dequeue+ack, 1 consumer: PgQ batch=1 ${R[pgq_1c_$sync]} events/s ${NOTE[pgq_1c_$sync]} (others used ${OTHER[pgq_1c_$sync]}% CPU)"
    if ((PGQ_BATCH > 0)); then
        prefill_pgq "$PGQ_BATCH_EVENTS" "$PGQ_BATCH"
        run_pgbench "pgqb_1c_$sync" "$WORK/deq_pgq.sql" 1 "$sync" dequeue "$PGQ_BATCH" "$PGQ_PENDING_SQL" \
            -t "$((PGQ_BATCH_EVENTS / PGQ_BATCH))"
        say "dequeue+ack, 1 consumer: PgQ batch=$PGQ_BATCH ${R[pgqb_1c_$sync]} events/s ${NOTE[pgqb_1c_$sync]} (others used ${OTHER[pgqb_1c_$sync]}% CPU)"
    fi
    for c in $CLIENTS; do
        empty_all
        settle
        run_pgbench "insert_${c}c_$sync" "$WORK/enq_insert.sql" "$c" "$sync" enqueue 1 \
            "SELECT count(*) FROM bench_raw_msg" -T "$SECS"
        say "enqueue, $c producer(s): INSERT ${R[insert_${c}c_$sync]} msg/s (others used ${OTHER[insert_${c}c_$sync]}% CPU)"
        if ((PRODUCT)); then
            empty_all
            settle
            run_pgbench "enq_${c}c_$sync" "$WORK/enq_product.sql" "$c" "$sync" enqueue 1 \
                "SELECT count(*) FROM es.messages" -T "$SECS"
            say "enqueue, $c producer(s): es.enqueue ${R[enq_${c}c_$sync]} msg/s (others used ${OTHER[enq_${c}c_$sync]}% CPU)"
        fi
    done
    run_latency "notify_$sync" notify "$sync"
    say "wake-up, LISTEN/NOTIFY + pgmq read: commit->consumer p50 ${L[notify_${sync}_commit_to_consumer_p50_ms]} ms, p99 ${L[notify_${sync}_commit_to_consumer_p99_ms]} ms"
    if ((PRODUCT)); then
        run_latency "wake_$sync" product "$sync"
        say "wake-up, es.dequeue(wait): commit->consumer p50 ${L[wake_${sync}_commit_to_consumer_p50_ms]} ms, p99 ${L[wake_${sync}_commit_to_consumer_p99_ms]} ms"
    fi
done

# --- report --------------------------------------------------------------------------
row() { printf '%-19s %-42s %7s %12s %12s %6s\n' "$@"; }
fig() { [[ -n ${R[$1]:-} ]] && echo "${R[$1]}${NOTE[$1]:+ (${NOTE[$1]})}" || echo "-"; }
rat() { [[ -n ${R[$1]:-} && -n ${R[$2]:-} ]] && ratio "${R[$1]}" "${R[$2]}" || echo "-"; }
lat() { echo "${L[$1]:--}"; }
{
    echo
    row "synchronous_commit" "workload" "clients" "baseline" "product" "ratio"
    for sync in $SYNC_MODES; do
        for c in $CLIENTS; do
            row "$sync" "dequeue+ack vs pgmq read+delete (msg/s)" "$c" \
                "$(fig "pgmq_${c}c_$sync")" "$(fig "deq_${c}c_$sync")" "$(rat "deq_${c}c_$sync" "pgmq_${c}c_$sync")"
        done
        row "$sync" "dequeue+ack vs PgQ batch=1 (msg/s)" 1 \
            "$(fig "pgq_1c_$sync")" "$(fig "deq_1c_$sync")" "$(rat "deq_1c_$sync" "pgq_1c_$sync")"
        if ((PGQ_BATCH > 0)); then
            row "$sync" "  info: PgQ batch=$PGQ_BATCH (events/s)" 1 \
                "$(fig "pgqb_1c_$sync")" "$(fig "deq_1c_$sync")" "$(rat "deq_1c_$sync" "pgqb_1c_$sync")"
        fi
        for c in $CLIENTS; do
            row "$sync" "enqueue vs INSERT (msg/s)" "$c" \
                "$(fig "insert_${c}c_$sync")" "$(fig "enq_${c}c_$sync")" "$(rat "enq_${c}c_$sync" "insert_${c}c_$sync")"
        done
        for p in p50 p99 max; do
            row "$sync" "wake-up commit->consumer $p (ms)" 1 \
                "$(lat "notify_${sync}_commit_to_consumer_${p}_ms")" "$(lat "wake_${sync}_commit_to_consumer_${p}_ms")" ""
        done
        row "$sync" "wake-up enqueue sent->consumer p99 (ms)" 1 \
            "$(lat "notify_${sync}_send_to_consumer_p99_ms")" "$(lat "wake_${sync}_send_to_consumer_p99_ms")" ""
    done
    echo "baselines: pgmq = pgmq's read/delete SQL on a pgmq-shaped table; PgQ = one consumer" \
        "(pgq3 has no competing consumers; not measured at more than 1); INSERT into bench_raw_msg;"
    echo "           wake-up = LISTEN/NOTIFY then the pgmq read.  product: es.dequeue + es.ack," \
        "es.enqueue, es.dequeue(wait => '5 seconds')"
    echo
    for sync in $SYNC_MODES; do
        suffix=""
        [[ $sync == on ]] || suffix="_sync_$sync"
        for key in "${!R[@]}"; do
            if [[ $key == *_$sync ]]; then echo "rate_${key%_"$sync"}$suffix=${R[$key]}"; fi
        done | sort
        ((PRODUCT)) || continue
        for c in $CLIENTS; do
            echo "dequeue_${c}c_vs_pgmq_ratio$suffix=$(rat "deq_${c}c_$sync" "pgmq_${c}c_$sync")"
        done
        echo "dequeue_1c_vs_pgq_ratio$suffix=$(rat "deq_1c_$sync" "pgq_1c_$sync")"
        for c in $CLIENTS; do
            echo "enqueue_${c}c_ratio$suffix=$(rat "enq_${c}c_$sync" "insert_${c}c_$sync")"
        done
        for p in p50 p99 max; do
            echo "wakeup_${p}_ms$suffix=$(lat "wake_${sync}_commit_to_consumer_${p}_ms")"
        done
    done
    for sync in $SYNC_MODES; do
        suffix=""
        [[ $sync == on ]] || suffix="_sync_$sync"
        for p in p50 p99 max; do
            echo "notify_wakeup_${p}_ms$suffix=$(lat "notify_${sync}_commit_to_consumer_${p}_ms")"
        done
    done
    echo "targets: dequeue_*_vs_pgmq_ratio >= 1.3, enqueue_*_ratio >= 0.9, wakeup_p99_ms < 5"
    for k in "${!NOTE[@]}"; do
        if [[ -n ${NOTE[$k]} ]]; then echo "WARNING: $k: backlog ran out during the run; its figure is a lower bound"; fi
    done
    report_other_cpu
} | tee -a "$RESULT"
note_so_changed
echo "raw figures: $RESULT"
