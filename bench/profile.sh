#!/usr/bin/env bash
# bench/profile.sh -- where the CPU time of a single es.append goes, next to
# the plain INSERT baseline of bench/run.sh.  Needs perf and python3.
#
# Starts its own throwaway cluster in bench/out/profile (same settings as
# bench/run.sh), runs the 8-client single-append workload and its INSERT
# baseline with pgbench, samples the 8 backends with
# `perf record -e cpu-clock --call-graph dwarf` for PROFILE_SECONDS, and
# prints microseconds of backend CPU per append, by bucket.
#
# Environment:
#   PROFILE_SECONDS   seconds of sampling per workload       (default 8)
#   PROFILE_SYNC      synchronous_commit of the clients      (default off:
#                     CPU-bound, so the CPU cost shows clearly)
#   PROFILE_CLIENTS   pgbench clients                        (default 8)
#   BENCH_PORT        port of the throwaway server           (default 54342)
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out/profile
SECS=${PROFILE_SECONDS:-8}
SYNC=${PROFILE_SYNC:-off}
CLIENTS=${PROFILE_CLIENTS:-8}
PORT=${BENCH_PORT:-54342}
HZ=499
WARMUP=4

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v perf >/dev/null 2>&1 || die "perf is not installed"
command -v python3 >/dev/null 2>&1 || die "python3 is not installed"

start_cluster
create_schema
make_workload_files

declare -A N
for w in append insert; do
    case $w in
        append) seq=es.global_position_seq ;;
        insert) seq=bench_raw_gp_seq ;;
    esac
    reset_state
    PGOPTIONS="-c synchronous_commit=$SYNC" "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" \
        -T $((WARMUP + SECS + 3)) -f "$WORK/$w.sql" bench >"$OUT/pgbench-$w.out" 2>&1 &
    pgb=$!
    sleep "$WARMUP"
    pids=$(q "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = 'pgbench'")
    [[ -n $pids ]] || die "no pgbench backends found"
    before=$(q "SELECT last_value FROM $seq")
    perf record -q -F $HZ -e cpu-clock --call-graph dwarf,16384 -p "$pids" -o "$OUT/perf-$w.data" \
        -- sleep "$SECS" >/dev/null 2>&1
    after=$(q "SELECT last_value FROM $seq")
    wait "$pgb" || die "pgbench failed, see $OUT/pgbench-$w.out"
    N[$w]=$((after - before))
    perf script -i "$OUT/perf-$w.data" -F comm,tid,ip,sym,dso >"$OUT/stacks-$w.txt" 2>/dev/null
    echo "$w: $(awk '/^tps = /{printf "%.0f tps", $3}' "$OUT/pgbench-$w.out"), ${N[$w]} appends while sampling"
done

echo "synchronous_commit=$SYNC, $CLIENTS clients, ${SECS}s of cpu-clock samples at ${HZ} Hz on the backends"
python3 "$BENCH_DIR/profile_buckets.py" "$OUT/stacks-append.txt" "${N[append]}" \
    "$OUT/stacks-insert.txt" "${N[insert]}" "$HZ" | tee "$OUT/profile.txt"
