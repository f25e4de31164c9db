#!/usr/bin/env bash
# bench/soak.sh -- churn soak of the queue table: does es.messages stay
# bounded when messages are enqueued, dequeued and acked for a long time?
#
#   make install && bench/soak.sh             (10 minutes by default)
#   BENCH_SOAK_SECONDS=120 bench/soak.sh
#   BENCH_SOAK_TARGET=pgmq bench/soak.sh      (the same churn on the pgmq
#                                              pattern of bench/queue.sh, for
#                                              comparison; needs no queue API)
#
# Starts a throwaway cluster in bench/out/soak/data (same settings as
# bench/run.sh, see bench/lib.sh: autovacuum on with its defaults, plus the
# storage options es.messages carries itself), then runs for
# BENCH_SOAK_SECONDS, side by side:
#   producers  pgbench -R BENCH_SOAK_RATE (total msg/s) -c BENCH_SOAK_PRODUCERS:
#              SELECT es.enqueue('soak', <payload>), autocommit
#   consumers  pgbench -c BENCH_SOAK_CONSUMERS, as fast as they can:
#              es.dequeue('soak', ..., wait => '1 second'), then es.ack in a
#              second transaction (pgmq: read, delete; a 10 ms sleep when
#              the queue is empty)
# Every BENCH_SOAK_INTERVAL seconds it prints the heap, index and total size
# of the table, each index, live/dead tuples (pg_stat_user_tables, which lag
# a little), autovacuum runs and the queue depth.  At the end: a verdict,
# BOUNDED when the largest total size seen in the second half of the run is
# at most 1.5 x the largest seen in the first half, else GROWING.
# Output also goes to bench/out/soak/last-run.txt.  This is a bench target,
# not a CI test.
#
# Environment:
#   BENCH_SOAK_SECONDS    duration                              (default 600)
#   BENCH_SOAK_INTERVAL   seconds between samples               (default 30)
#   BENCH_SOAK_RATE       enqueues per second, all producers    (default 500)
#   BENCH_SOAK_PRODUCERS  producer sessions                     (default 2)
#   BENCH_SOAK_CONSUMERS  consumer sessions                     (default 2)
#   BENCH_SOAK_SYNC       synchronous_commit of the clients     (default on)
#   BENCH_SOAK_TARGET     product | pgmq                        (default product)
#   BENCH_PORT            port of the throwaway server          (default 54344)
#   BENCH_KEEP            set to keep bench/out/soak/data after a successful run
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out/soak
RESULT=$OUT/last-run.txt
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "bench: $1 must be a positive integer" >&2; exit 1; }; }
SECS=${BENCH_SOAK_SECONDS:-600};        posint BENCH_SOAK_SECONDS "$SECS"
INTERVAL=${BENCH_SOAK_INTERVAL:-30};    posint BENCH_SOAK_INTERVAL "$INTERVAL"
RATE=${BENCH_SOAK_RATE:-500};           posint BENCH_SOAK_RATE "$RATE"
PRODUCERS=${BENCH_SOAK_PRODUCERS:-2};   posint BENCH_SOAK_PRODUCERS "$PRODUCERS"
CONSUMERS=${BENCH_SOAK_CONSUMERS:-2};   posint BENCH_SOAK_CONSUMERS "$CONSUMERS"
SYNC=${BENCH_SOAK_SYNC:-on}
TARGET=${BENCH_SOAK_TARGET:-product}
[[ $TARGET == product || $TARGET == pgmq ]] || { echo "bench: BENCH_SOAK_TARGET must be product or pgmq" >&2; exit 1; }
# shellcheck disable=SC2034  # used by lib.sh
PORT=${BENCH_PORT:-54344}

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAYLOAD='{"order": 42, "note": "benchmark message"}'
SO_MD5=$(md5sum <"$PKGLIB/event_streaming.so" | cut -c1-12)
start_cluster

psql_ -d bench >/dev/null <<SQL
CREATE EXTENSION event_streaming;
$PGMQ_TABLE_SQL
SQL

if [[ $TARGET == product ]]; then
    [[ -n $(q "SELECT to_regprocedure('es.dequeue(text,text,interval,integer,interval)')") ]] ||
        die "the queue API (event_streaming 0.2.0) is not installed; run 'make install' (or BENCH_SOAK_TARGET=pgmq)"
    q "SELECT es.create_queue('soak')" >/dev/null
    TABLE=es.messages
    DEPTH_SQL="SELECT count(*) FROM es.messages"
    PRODUCED_SQL="SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM es.message_id_seq"
    cat >"$WORK/produce.sql" <<EOF
SELECT es.enqueue('soak', '$PAYLOAD');
EOF
    cat >"$WORK/consume.sql" <<'EOF'
\set message_id 0
SELECT * FROM es.dequeue('soak', 'c' || :client_id, wait => interval '1 second') \aset
\if :message_id > 0
SELECT es.ack('soak', :message_id, :receipt);
\endif
EOF
else
    TABLE=bench_pgmq
    DEPTH_SQL="SELECT count(*) FROM bench_pgmq"
    PRODUCED_SQL="SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench_pgmq_msg_id_seq"
    cat >"$WORK/produce.sql" <<EOF
INSERT INTO bench_pgmq (vt, message, headers) VALUES (clock_timestamp(), '$PAYLOAD'::jsonb, NULL) RETURNING msg_id;
EOF
    cat >"$WORK/consume.sql" <<'EOF'
\set msg_id 0
WITH cte AS (SELECT msg_id FROM bench_pgmq WHERE vt <= clock_timestamp() ORDER BY msg_id ASC LIMIT 1 FOR UPDATE SKIP LOCKED) UPDATE bench_pgmq m SET vt = clock_timestamp() + interval '30 seconds', read_ct = read_ct + 1 FROM cte WHERE m.msg_id = cte.msg_id RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers \aset
\if :msg_id > 0
DELETE FROM bench_pgmq WHERE msg_id = :msg_id RETURNING msg_id;
\else
\sleep 10 ms
\endif
EOF
fi
psql_ -d bench -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null

# one line per sample: t heap indexes total live dead autovacuums depth per-index...
SAMPLE_SQL="SELECT pg_relation_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid),
                   coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0),
                   coalesce(s.autovacuum_count, 0),
                   ($DEPTH_SQL),
                   (SELECT string_agg(i.indexrelid::regclass::text || '=' || pg_relation_size(i.indexrelid) / 1024,
                                      ' ' ORDER BY i.indexrelid::regclass::text)
                      FROM pg_index i WHERE i.indrelid = c.oid)
              FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
             WHERE c.oid = '$TABLE'::regclass"
SAMPLES=$OUT/samples.txt
: >"$SAMPLES"
sample() {   # T
    local row heap idx total live dead vac depth per
    row=$(q "$SAMPLE_SQL")
    IFS='|' read -r heap idx total live dead vac depth per <<<"$row"
    echo "$1 $total" >>"$SAMPLES"
    printf '%6s %11s %11s %11s %10s %10s %7s %8s  %s\n' "$1" $((heap / 1024)) $((idx / 1024)) \
        $((total / 1024)) "$live" "$dead" "$vac" "$depth" "$per"
}

{
    echo "event_streaming queue soak, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(nproc) cores; server: $("$PGBIN/postgres" --version)"
    echo "extension: $(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'"), $PKGLIB/event_streaming.so md5 $SO_MD5"
    echo "target: $TARGET (table $TABLE); ${SECS}s; producers $PRODUCERS at $RATE msg/s in total;" \
        "consumers $CONSUMERS (dequeue + ack in separate transactions); synchronous_commit=$SYNC"
    echo "storage options of $TABLE: $(q "SELECT coalesce(array_to_string(reloptions, ', '), '(none)') FROM pg_class WHERE oid = '$TABLE'::regclass")"
    echo
    printf '%6s %11s %11s %11s %10s %10s %7s %8s  %s\n' "t(s)" "heap KiB" "indexes KiB" "total KiB" \
        "live tup" "dead tup" "autovac" "depth" "index KiB"
} | tee "$RESULT"

PGOPTIONS="-c synchronous_commit=$SYNC" "$PGBIN/pgbench" -n -M prepared -c "$PRODUCERS" -j "$PRODUCERS" \
    -R "$RATE" -T "$SECS" -f "$WORK/produce.sql" bench >"$OUT/producers.out" 2>&1 &
PROD_PID=$!
PGOPTIONS="-c synchronous_commit=$SYNC" "$PGBIN/pgbench" -n -M prepared -c "$CONSUMERS" -j "$CONSUMERS" \
    -T "$SECS" -f "$WORK/consume.sql" bench >"$OUT/consumers.out" 2>&1 &
CONS_PID=$!
# stop the clients too if this script fails or is interrupted
soak_exit() {
    local rc=$?
    kill "$PROD_PID" "$CONS_PID" 2>/dev/null || true
    wait "$PROD_PID" "$CONS_PID" 2>/dev/null || true
    (exit "$rc")
    cleanup
}
trap soak_exit EXIT

T0=$(date +%s)
sample 0 | tee -a "$RESULT"
next=$INTERVAL
while ((next <= SECS)); do
    sleep $((T0 + next - $(date +%s) > 0 ? T0 + next - $(date +%s) : 0))
    kill -0 "$PROD_PID" 2>/dev/null || kill -0 "$CONS_PID" 2>/dev/null || break
    sample "$next" | tee -a "$RESULT"
    next=$((next + INTERVAL))
done
prc=0 crc=0
wait "$PROD_PID" || prc=$?
wait "$CONS_PID" || crc=$?
trap cleanup EXIT
((prc == 0)) || { cat "$OUT/producers.out" >&2; die "producers failed"; }
((crc == 0)) || { cat "$OUT/consumers.out" >&2; die "consumers failed"; }
sample "$(($(date +%s) - T0))" | tee -a "$RESULT"

{
    echo
    echo "--- producers (pgbench) ---"
    cat "$OUT/producers.out"
    echo "--- consumers (pgbench) ---"
    cat "$OUT/consumers.out"
} >>"$RESULT"
grep -q aborted "$OUT/producers.out" "$OUT/consumers.out" && die "pgbench clients aborted, see $RESULT"

produced=$(q "$PRODUCED_SQL")
depth=$(q "$DEPTH_SQL")
{
    echo
    echo "produced $produced messages ($(awk -v n="$produced" -v s="$SECS" 'BEGIN{printf "%.0f", n / s}')/s)," \
        "consumed $((produced - depth)), $depth left in the queue"
    awk -v half="$(awk -v s="$SECS" 'BEGIN{print s / 2}')" '
        { if ($1 <= half) { if ($2 > m1) m1 = $2 } else { if ($2 > m2) m2 = $2 } }
        END {
            if (m1 == 0 || m2 == 0) { print "verdict: UNKNOWN (not enough samples in one half)"; exit }
            printf "max total size: first half %d KiB, second half %d KiB (x%.2f)\n", m1 / 1024, m2 / 1024, m2 / m1
            printf "verdict: %s (bounded means second-half max <= 1.5 x first-half max)\n", (m2 <= 1.5 * m1 ? "BOUNDED" : "GROWING")
        }' "$SAMPLES"
    if ((depth > 2 * RATE)); then
        echo "note: $depth messages were left (more than 2 s of production): the consumers did not keep up," \
            "so part of any growth is backlog, not bloat"
    fi
} | tee -a "$RESULT"
echo "raw output: $RESULT"
