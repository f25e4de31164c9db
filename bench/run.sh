#!/usr/bin/env bash
# bench/run.sh -- append throughput of event_streaming against plain PostgreSQL.
#
#   make install && make bench            (or: bench/run.sh)
#
# Starts a throwaway cluster in bench/out/data (unix socket only, no TCP),
# creates the extension and, in the same run, measures each product workload
# against its baseline:
#
#   1. single-event append, 1 and 8 clients (pgbench -M prepared -T):
#        es.append(...)                 vs  INSERT of the same row into
#                                           bench_raw (same columns, same
#                                           indexes as es.events)
#   2. batch of 100 events, 1 client (one psql running a generated script):
#        es.append_batch(stream, <array>) vs \copy of 100 equivalent rows
#                                           into bench_raw2
#
# Prints a table and key=value ratios, writes raw figures to
# bench/out/last-run.txt, and stops the cluster on exit.  Installs nothing and
# never touches a system cluster.
#
# Environment:
#   BENCH_SECONDS     seconds per pgbench run                 (default 30)
#   BENCH_BATCHES     append_batch calls / \copy runs   (default 100 x BENCH_SECONDS)
#   BENCH_SYNC_MODES  synchronous_commit values to measure     (default "on off")
#   BENCH_CLIENTS     client counts of the single-append test (default "1 8")
#   BENCH_PORT        port of the throwaway server            (default 54341)
#   BENCH_KEEP        set to keep bench/out/data after a successful run
#   PG_CONFIG         pg_config of the server to use          (default: first in PATH)
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out
RESULT=$OUT/last-run.txt
SECS=${BENCH_SECONDS:-30}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_SECONDS must be a positive integer" >&2; exit 1; }
BATCHES=${BENCH_BATCHES:-$((100 * SECS))}
[[ $BATCHES =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_BATCHES must be a positive integer" >&2; exit 1; }
SYNC_MODES=${BENCH_SYNC_MODES:-on off}
CLIENTS=${BENCH_CLIENTS:-1 8}
PORT=${BENCH_PORT:-54341}

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_cluster_pinned
create_schema
make_workload_files

declare -A R   # results
declare -A OTHER   # share of the machine's CPU used by other processes, per run

# run_pgbench KEY SCRIPT CLIENTS SYNC TABLE SEEDROWS -> R[KEY] = tps
run_pgbench() {
    local key=$1 script=$2 c=$3 sync=$4 table=$5 seed=$6 out rows tps done_ m0
    reset_state
    echo "== $key: pgbench -c $c -j $c -T $SECS -M prepared -n -f $(basename "$script")" \
        "(synchronous_commit=$sync)" >>"$RESULT"
    m0=$(cpu_mark)
    out=$(PGOPTIONS="-c synchronous_commit=$sync" "$PGBIN/pgbench" -n -M prepared \
        -c "$c" -j "$c" -T "$SECS" -f "$script" bench 2>&1) ||
        { echo "$out" >&2; die "pgbench failed for $key"; }
    sleep 0.2   # let the postmaster reap the backends
    OTHER[$key]=$(other_cpu "$m0" "$(cpu_mark)")
    echo "$out" >>"$RESULT"
    grep -q 'aborted' <<<"$out" && { echo "$out" >&2; die "pgbench clients aborted in $key"; }
    tps=$(awk '/^tps = /{printf "%.1f", $3; exit}' <<<"$out")
    done_=$(awk -F': ' '/number of transactions actually processed/{print $2; exit}' <<<"$out")
    rows=$(q "SELECT count(*) - $seed FROM $table")
    echo "rows written: $rows (transactions: $done_); CPU used by other processes: ${OTHER[$key]}% of the machine" >>"$RESULT"
    [[ -n $tps ]] || die "no tps in pgbench output for $key"
    ((rows == done_)) || die "$key: $rows rows written for $done_ transactions"
    R[$key]=$tps
}

# run_script KEY FILE SYNC TABLE SEEDROWS -> R[KEY] = events/s
run_script() {
    local key=$1 file=$2 sync=$3 table=$4 seed=$5 t0 t1 rows secs m0
    reset_state
    echo "== $key: psql -f $(basename "$file") ($BATCHES x $BATCH_SIZE events," \
        "synchronous_commit=$sync)" >>"$RESULT"
    m0=$(cpu_mark)
    t0=$(date +%s%N)
    PGOPTIONS="-c synchronous_commit=$sync" psql_ -d bench -o /dev/null -f "$file" ||
        die "psql failed for $key"
    t1=$(date +%s%N)
    sleep 0.2
    OTHER[$key]=$(other_cpu "$m0" "$(cpu_mark)")
    rows=$(q "SELECT count(*) - $seed FROM $table")
    ((rows == BATCHES * BATCH_SIZE)) || die "$key: $rows rows written, expected $((BATCHES * BATCH_SIZE))"
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b - a) / 1e9}')
    R[$key]=$(awk -v n="$rows" -v s="$secs" 'BEGIN{printf "%.1f", n / s}')
    echo "rows written: $rows in $secs s = ${R[$key]} events/s; CPU used by other processes: ${OTHER[$key]}% of the machine" >>"$RESULT"
}

ratio() { awk -v p="$1" -v b="$2" 'BEGIN{printf "%.2f", p / b}'; }

# --- header ------------------------------------------------------------------------
{
    echo "event_streaming benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "server: $("$PGBIN/postgres" --version)"
    echo "extension: $(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'"), $PKGLIB/event_streaming.so md5 $SO_MD5"
    echo "BENCH_SECONDS=$SECS BENCH_BATCHES=$BATCHES BENCH_SYNC_MODES='$SYNC_MODES' BENCH_CLIENTS='$CLIENTS'"
    echo "settings (from pg_settings):"
    q "SELECT '  ' || name || ' = ' || current_setting(name)
         FROM pg_settings
        WHERE name IN ($SETTING_NAMES)
        ORDER BY name"
    echo "  (synchronous_commit is set per client through PGOPTIONS for each run below)"
    echo "baseline tables: LIKE es.events INCLUDING ALL, $N_INDEXES indexes each, identical definitions"
    echo
} >"$RESULT"
cat "$RESULT"
echo "running: $(wc -w <<<"$SYNC_MODES") x ($(($(wc -w <<<"$CLIENTS") * 2)) pgbench runs of ${SECS}s + 2 x $BATCHES batches) ..."

# --- the workloads ---------------------------------------------------------------
for sync in $SYNC_MODES; do
    for c in $CLIENTS; do
        run_pgbench "insert_${c}c_$sync" "$WORK/insert.sql" "$c" "$sync" bench_raw "$STREAMS"
        echo "  synchronous_commit=$sync, $c client(s): INSERT ${R[insert_${c}c_$sync]} tps (others used ${OTHER[insert_${c}c_$sync]}% CPU)"
        run_pgbench "append_${c}c_$sync" "$WORK/append.sql" "$c" "$sync" es.events "$((STREAMS + BATCH_STREAMS))"
        echo "  synchronous_commit=$sync, $c client(s): es.append ${R[append_${c}c_$sync]} tps (others used ${OTHER[append_${c}c_$sync]}% CPU)"
    done
    run_script "copy_$sync" "$WORK/copy.sql" "$sync" bench_raw2 "$BATCH_STREAMS"
    echo "  synchronous_commit=$sync, batches: COPY ${R[copy_$sync]} events/s (others used ${OTHER[copy_$sync]}% CPU)"
    run_script "batch_$sync" "$WORK/append_batch.sql" "$sync" es.events "$((STREAMS + BATCH_STREAMS))"
    echo "  synchronous_commit=$sync, batches: es.append_batch ${R[batch_$sync]} events/s (others used ${OTHER[batch_$sync]}% CPU)"
done

# --- report ---------------------------------------------------------------------------
{
    echo
    printf '%-19s %-27s %7s %14s %14s %6s\n' "synchronous_commit" "workload" "clients" "baseline" "product" "ratio"
    for sync in $SYNC_MODES; do
        for c in $CLIENTS; do
            printf '%-19s %-27s %7s %14s %14s %6s\n' "$sync" "single append (appends/s)" "$c" \
                "${R[insert_${c}c_$sync]}" "${R[append_${c}c_$sync]}" \
                "$(ratio "${R[append_${c}c_$sync]}" "${R[insert_${c}c_$sync]}")"
        done
        printf '%-19s %-27s %7s %14s %14s %6s\n' "$sync" "batch x$BATCH_SIZE (events/s)" 1 \
            "${R[copy_$sync]}" "${R[batch_$sync]}" "$(ratio "${R[batch_$sync]}" "${R[copy_$sync]}")"
    done
    echo "baseline: INSERT into bench_raw (single), \\copy into bench_raw2 (batch); product: es.append, es.append_batch"
    echo
    for sync in $SYNC_MODES; do
        suffix=""
        [[ $sync == on ]] || suffix="_sync_$sync"
        for c in $CLIENTS; do
            echo "append_${c}c_ratio$suffix=$(ratio "${R[append_${c}c_$sync]}" "${R[insert_${c}c_$sync]}")"
        done
        echo "batch_ratio$suffix=$(ratio "${R[batch_$sync]}" "${R[copy_$sync]}")"
    done
    echo "targets: append_8c_ratio >= 0.9, batch_ratio >= 0.5"
    report_other_cpu
} | tee -a "$RESULT"
note_so_changed
echo "raw figures: $RESULT"
