#!/usr/bin/env bash
# bench/evolution.sh -- what the schema-evolution features of 0.5.0 cost: reads
# that upcast stored events through a chain of upcasters, and the capture
# trigger es.capture_table installs on a CRUD table.
#
#   make install && make bench-evolution        (or: bench/evolution.sh)
#   BENCH_STREAMS=10 BENCH_READ_SECONDS=2 BENCH_READ_ROUNDS=1 BENCH_SCALE=1 \
#     BENCH_UPDATE_SECONDS=3 BENCH_UPDATE_PAIRS=1 bench/evolution.sh   (quick check)
#
# Starts a throwaway cluster in bench/out/evolution/data (unix socket only, the
# settings of bench/lib.sh, synchronous_commit=on) and, in ONE run, measures:
#
#   1. Upcast read cost.  Two event types with identical stored events:
#        Deposited  in streams up-1 .. up-BENCH_STREAMS
#        Withdrawn  in streams no-1 .. no-BENCH_STREAMS
#      BENCH_EVENTS_PER_STREAM events each, the same data, loaded through
#      es.append_batch (batches of 100, synchronous_commit=off, not measured),
#      alternating up-K and no-K batch by batch so both types are laid out
#      alike in es.events.  All stored at version 1.  Then a two-step chain of
#      SQL-language IMMUTABLE functions is registered for Deposited
#        1 -> 2: SELECT (d - 'note') || jsonb_build_object('description', d -> 'note')
#        2 -> 3: SELECT d || '{"channel": "unknown"}'
#      and none for Withdrawn.  VACUUM ANALYZE, CHECKPOINT, one untimed pass of
#      every read (which also checks the row counts and that read_stream
#      returns version 3 for Deposited and version 1 for Withdrawn, and
#      read_stream_raw version 1 for both).  Then
#        pgbench -n -M prepared -c BENCH_READ_CLIENTS -j 2 -T BENCH_READ_SECONDS
#      of a script reading one random whole stream page by page, in
#      autocommit (each page its own transaction), with every row sent to
#      pgbench:
#        \set sid random(1, BENCH_STREAMS)
#        SELECT * FROM es.read_stream('up-' || :sid, <first>, BENCH_PAGE);
#        SELECT * FROM es.read_stream('up-' || :sid, <first> + BENCH_PAGE, BENCH_PAGE);
#        ... until the page past the end (which comes back empty)
#      events/s = tps x BENCH_EVENTS_PER_STREAM.  Four variants: read_stream
#      over no-* (no upcasters), over up-* (2 steps each), and as a control
#      read_stream_raw over no-* and up-*.  BENCH_READ_ROUNDS rounds of the
#      four, in that order in odd rounds and in reverse in even ones; medians
#      reported.
#        -> upcast_read_ratio = read_stream(up) / read_stream(no)
#        -> raw_read_ratio    = read_stream_raw(up) / read_stream_raw(no)  (~1.0)
#   2. Capture-trigger overhead.  pgbench -i -s BENCH_SCALE (pgbench_accounts,
#      aid its primary key); es.import_table('pgbench_accounts', 'account')
#      once, untimed, so every account has its stream 'account-<aid>' (the
#      steady state after a migration; BENCH_IMPORT=0 skips it, then most
#      captured updates create their stream).  Then
#        pgbench -n -M prepared -c 8 -j 2 -T BENCH_UPDATE_SECONDS of
#          \set aid random(1, 100000 * BENCH_SCALE)
#          \set delta (random(0, 1) * 2 - 1) * random(1, 5000)
#          UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
#      (the UPDATE of TPC-B alone; delta is never 0, so every UPDATE changes
#      the row), BENCH_UPDATE_PAIRS times plain then captured:
#        plain:    no trigger (es.uncapture_table before, from the second pair)
#        captured: after es.capture_table('pgbench_accounts', 'account')
#      Before each run: VACUUM ANALYZE of the pgbench tables and es.events,
#      CHECKPOINT.  After each: the Updated events appended must equal the
#      transactions (captured) or be 0 (plain).
#        -> capture_ratio = median over the pairs of captured tps / plain tps
#
# For every measurement the script records the CPU share that other
# processes took (bench/lib.sh).  Prints the figures and key=value lines,
# writes the raw pgbench output to bench/out/evolution-last-run.txt, and
# stops the cluster on exit.  Installs nothing and never touches a system
# cluster.
#
# Environment:
#   BENCH_STREAMS            streams per event type                          (default 100)
#   BENCH_EVENTS_PER_STREAM  events per stream, a multiple of 100 and of BENCH_PAGE (default 1000)
#   BENCH_PAGE               max_count per read                              (default 100)
#   BENCH_READ_CLIENTS       pgbench clients of the reads                    (default 4)
#   BENCH_READ_SECONDS       seconds per pgbench run of the reads            (default 10)
#   BENCH_READ_ROUNDS        rounds of the four read variants                (default 4)
#   BENCH_SCALE              pgbench scale of the update test                (default 10)
#   BENCH_IMPORT             1: es.import_table before the update runs       (default 1)
#   BENCH_UPDATE_SECONDS     seconds per pgbench run of the updates          (default 30)
#   BENCH_UPDATE_PAIRS       plain + captured pairs                          (default 3)
#   BENCH_PORT               port of the throwaway server                    (default 54347)
#   BENCH_KEEP               set to keep bench/out/evolution/data after a successful run
#   PG_CONFIG                pg_config of the server to use                  (default: first in PATH)
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out/evolution
RESULT=$(dirname "$OUT")/evolution-last-run.txt
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "bench: $1 must be a positive integer" >&2; exit 1; }; }
NSTREAMS=${BENCH_STREAMS:-100};            posint BENCH_STREAMS "$NSTREAMS"
PER_STREAM=${BENCH_EVENTS_PER_STREAM:-1000}; posint BENCH_EVENTS_PER_STREAM "$PER_STREAM"
PAGE=${BENCH_PAGE:-100};                   posint BENCH_PAGE "$PAGE"
READ_CLIENTS=${BENCH_READ_CLIENTS:-4};     posint BENCH_READ_CLIENTS "$READ_CLIENTS"
READ_SECS=${BENCH_READ_SECONDS:-10};       posint BENCH_READ_SECONDS "$READ_SECS"
ROUNDS=${BENCH_READ_ROUNDS:-4};            posint BENCH_READ_ROUNDS "$ROUNDS"
SCALE=${BENCH_SCALE:-10};                  posint BENCH_SCALE "$SCALE"
IMPORT=${BENCH_IMPORT:-1}
UPD_SECS=${BENCH_UPDATE_SECONDS:-30};      posint BENCH_UPDATE_SECONDS "$UPD_SECS"
PAIRS=${BENCH_UPDATE_PAIRS:-3};            posint BENCH_UPDATE_PAIRS "$PAIRS"
[[ $IMPORT == 0 || $IMPORT == 1 ]] || { echo "bench: BENCH_IMPORT must be 0 or 1" >&2; exit 1; }
((PER_STREAM % 100 == 0)) || { echo "bench: BENCH_EVENTS_PER_STREAM must be a multiple of 100" >&2; exit 1; }
((PER_STREAM % PAGE == 0)) || { echo "bench: BENCH_EVENTS_PER_STREAM must be a multiple of BENCH_PAGE" >&2; exit 1; }
((PAGE <= 10000)) || { echo "bench: BENCH_PAGE is at most 10000 (event_streaming.max_read_count)" >&2; exit 1; }
# shellcheck disable=SC2034  # used by lib.sh
PORT=${BENCH_PORT:-54347}
LOAD_BATCH=100                       # events per es.append_batch call of the load
TYPE_EVENTS=$((NSTREAMS * PER_STREAM))
PAGES=$((PER_STREAM / PAGE))         # full pages per stream; one more comes back empty
UPD_CLIENTS=8
ACCOUNTS=$((100000 * SCALE))
T_START=$(date +%s)

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_cluster_pinned

# --- schema ------------------------------------------------------------------------
psql_ -d bench -c "CREATE EXTENSION event_streaming" >/dev/null
EXTVER=$(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'")
for f in 'es.register_upcaster(text,integer,regprocedure)' 'es.read_stream_raw(text,bigint,integer)' \
    'es.capture_table(regclass,text,name,text)' 'es.uncapture_table(regclass)' \
    'es.import_table(regclass,text,name,text)'; do
    [[ -n $(q "SELECT to_regprocedure('$f')") ]] ||
        die "$f is not installed (extension version $EXTVER, 0.5.0 needed); run 'make install'"
done

psql_ -d bench >/dev/null <<'SQL'
-- the upcasters of Deposited: rename a field, then add one
CREATE FUNCTION bench_deposited_v1_v2(d jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT (d - 'note') || jsonb_build_object('description', d -> 'note') $$;
CREATE FUNCTION bench_deposited_v2_v3(d jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT d || '{"channel": "unknown"}' $$;
SQL

# --- helpers ---------------------------------------------------------------------
declare -A R OTHER
since() { awk -v a="$1" -v b="$(date +%s%N)" -v d="${2:-1}" 'BEGIN{printf "%.*f", d, (b - a) / 1e9}'; }
say() { echo "  $*" | tee -a "$RESULT"; }
log() { echo "$*" >>"$RESULT"; }
div() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN{if (b == 0 || a == "-" || b == "-") print "-"; else printf "%.*f", d, a / b}'; }
median() {   # [DECIMALS] numbers on stdin -> their median
    tr ' ' '\n' | grep . | sort -g |
        awk -v d="${1:-1}" '{v[++n] = $1} END {printf "%.*f\n", d, (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2}'
}
max_other() {   # KEY PERCENT: keep the largest share seen for KEY
    if [[ -z ${OTHER[$1]:-} ]] || (($2 > OTHER[$1])); then OTHER[$1]=$2; fi
}

# pgbench_run KEY CLIENTS SECONDS SCRIPT -> sets PGB_TPS, PGB_TX; raw output to $RESULT
pgbench_run() {
    local key=$1 clients=$2 secs=$3 script=$4 out m0 other
    log "== $key: pgbench -n -M prepared -c $clients -j 2 -T $secs -f $(basename "$script")"
    m0=$(cpu_mark)
    out=$("$PGBIN/pgbench" -n -M prepared -c "$clients" -j 2 -T "$secs" -f "$script" bench 2>&1) ||
        { echo "$out" >&2; die "pgbench failed for $key"; }
    sleep 0.2   # let the postmaster reap the backends, so that their CPU is counted as ours
    other=$(other_cpu "$m0" "$(cpu_mark)")
    max_other "$key" "$other"
    log "$out"
    grep -q 'aborted' <<<"$out" && { echo "$out" >&2; die "pgbench clients aborted in $key"; }
    PGB_TPS=$(awk '/^tps = /{printf "%.3f", $3; exit}' <<<"$out")
    PGB_TX=$(awk -F': ' '/number of transactions actually processed/{print $2; exit}' <<<"$out")
    PGB_TX=${PGB_TX%%/*}
    [[ -n $PGB_TPS && -n $PGB_TX ]] || { echo "$out" >&2; die "no tps in pgbench output for $key"; }
    log "-- $key: CPU used by other processes: $other% of the machine"
    PGB_OTHER=$other
}

# --- header ----------------------------------------------------------------------
{
    echo "event_streaming evolution benchmark (upcasting reads, capture trigger), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "server: $("$PGBIN/postgres" --version)"
    echo "extension: $EXTVER, $PKGLIB/event_streaming.so md5 $SO_MD5"
    echo "BENCH_STREAMS=$NSTREAMS BENCH_EVENTS_PER_STREAM=$PER_STREAM BENCH_PAGE=$PAGE" \
        "BENCH_READ_CLIENTS=$READ_CLIENTS BENCH_READ_SECONDS=$READ_SECS BENCH_READ_ROUNDS=$ROUNDS"
    echo "BENCH_SCALE=$SCALE BENCH_IMPORT=$IMPORT BENCH_UPDATE_SECONDS=$UPD_SECS BENCH_UPDATE_PAIRS=$PAIRS"
    echo "settings (from pg_settings):"
    q "SELECT '  ' || name || ' = ' || current_setting(name)
         FROM pg_settings
        WHERE name IN ($SETTING_NAMES) OR name LIKE 'event_streaming.%'
        ORDER BY name"
    echo
} >"$RESULT"
cat "$RESULT"
echo "running: a load of $((2 * TYPE_EVENTS)) events, $((4 * ROUNDS)) x ${READ_SECS}s of reads," \
    "pgbench -i -s $SCALE$( ((IMPORT)) && echo " and its import"), $((2 * PAIRS)) x ${UPD_SECS}s of updates ..."

# --- 1. upcast read cost ---------------------------------------------------------------
echo "1. upcasting reads:"
t0=$(date +%s%N)
PGOPTIONS="-c synchronous_commit=off -c client_min_messages=warning" psql_ -d bench >/dev/null <<SQL
DO \$\$
DECLARE
    up jsonb;
    no jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_object('type', 'Deposited', 'data', '$DATA_JSON'::jsonb)),
           jsonb_agg(jsonb_build_object('type', 'Withdrawn', 'data', '$DATA_JSON'::jsonb))
      INTO up, no FROM generate_series(1, $LOAD_BATCH);
    FOR r IN 1..$((PER_STREAM / LOAD_BATCH)) LOOP
        FOR s IN 1..$NSTREAMS LOOP
            PERFORM es.append_batch('up-' || s, up);
            PERFORM es.append_batch('no-' || s, no);
            IF s % 25 = 0 THEN
                COMMIT;
            END IF;
        END LOOP;
        COMMIT;
    END LOOP;
END
\$\$;
SQL
LOAD_SECS=$(since "$t0")
[[ $(q "SELECT count(*) FROM es.events WHERE event_type = 'Deposited' AND schema_version = 1") == "$TYPE_EVENTS" ]] ||
    die "load: expected $TYPE_EVENTS Deposited events at version 1"
[[ $(q "SELECT count(*) FROM es.events WHERE event_type = 'Withdrawn' AND schema_version = 1") == "$TYPE_EVENTS" ]] ||
    die "load: expected $TYPE_EVENTS Withdrawn events at version 1"
[[ $(q "SELECT es.register_upcaster('Deposited', 1, 'bench_deposited_v1_v2(jsonb)')") == 2 ]] ||
    die "register_upcaster 1 -> 2 did not return 2"
[[ $(q "SELECT es.register_upcaster('Deposited', 2, 'bench_deposited_v2_v3(jsonb)')") == 3 ]] ||
    die "register_upcaster 2 -> 3 did not return 3"
TYPES=$(q "SELECT string_agg(event_type || ' v' || current_version || ' ' || upcasters::text, '; ' ORDER BY event_type)
             FROM es.event_types")
log "-- es.event_types: $TYPES"
[[ $(q "SELECT current_version FROM es.event_types WHERE event_type = 'Deposited'") == 3 ]] ||
    die "Deposited should be at version 3: $TYPES"
[[ $(q "SELECT current_version FROM es.event_types WHERE event_type = 'Withdrawn'") == 1 ]] ||
    die "Withdrawn should be at version 1: $TYPES"
t0=$(date +%s%N)
psql_ -d bench -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
log "-- load: $((2 * TYPE_EVENTS)) events via es.append_batch x $LOAD_BATCH in $LOAD_SECS s; VACUUM ANALYZE + CHECKPOINT $(since "$t0") s"
FIRST=$(q "SELECT min(stream_offset) FROM es.events WHERE stream = 'up-1'")
[[ $(q "SELECT min(stream_offset) FROM es.events WHERE stream = 'no-1'") == "$FIRST" ]] ||
    die "streams up-1 and no-1 do not start at the same offset"
say "loaded $((2 * TYPE_EVENTS)) events ($NSTREAMS streams x $PER_STREAM events, Deposited and Withdrawn) in $LOAD_SECS s;" \
    "Deposited upcast 1 -> 2 -> 3 by two SQL functions, Withdrawn without upcasters"
say "sample, read_stream('up-1', $FIRST, 1):     $(q "SELECT schema_version || ' ' || data::text FROM es.read_stream('up-1', $FIRST, 1)")"
say "sample, read_stream_raw('up-1', $FIRST, 1): $(q "SELECT schema_version || ' ' || data::text FROM es.read_stream_raw('up-1', $FIRST, 1)")"
say "sample, read_stream('no-1', $FIRST, 1):     $(q "SELECT schema_version || ' ' || data::text FROM es.read_stream('no-1', $FIRST, 1)")"

# The pgbench scripts: one whole stream, page by page, and the page past the end.
declare -A READ_FN=([read_none]=read_stream [read_upcast]=read_stream [raw_none]=read_stream_raw [raw_upcast]=read_stream_raw)
declare -A READ_PFX=([read_none]=no [read_upcast]=up [raw_none]=no [raw_upcast]=up)
declare -A READ_VER=([read_none]=1 [read_upcast]=3 [raw_none]=1 [raw_upcast]=1)
VARIANTS="read_none read_upcast raw_none raw_upcast"
for v in $VARIANTS; do
    {
        echo "\\set sid random(1, $NSTREAMS)"
        for ((k = 0; k <= PAGES; k++)); do
            echo "SELECT * FROM es.${READ_FN[$v]}('${READ_PFX[$v]}-' || :sid, $((FIRST + k * PAGE)), $PAGE);"
        done
    } >"$WORK/$v.sql"
done
log "-- read script (read_upcast.sql), $((PAGES + 1)) statements:"
log "$(head -3 "$WORK/read_upcast.sql")"
log "..."
log "$(tail -1 "$WORK/read_upcast.sql")"

# Untimed pass of each variant over every stream (warm-up and check): the
# pages hold every event once, the last page is empty, versions as expected.
for v in $VARIANTS; do
    t0=$(date +%s%N)
    chk=$(q "SELECT count(*), count(DISTINCT e.global_position),
                    count(*) FILTER (WHERE e.schema_version = ${READ_VER[$v]}),
                    count(*) FILTER (WHERE k = $PAGES)
               FROM generate_series(1, $NSTREAMS) s, generate_series(0, $PAGES) k,
                    es.${READ_FN[$v]}('${READ_PFX[$v]}-' || s, $FIRST + k * $PAGE, $PAGE) e")
    [[ $chk == "$TYPE_EVENTS|$TYPE_EVENTS|$TYPE_EVENTS|0" ]] ||
        die "$v: expected $TYPE_EVENTS events, all distinct, at version ${READ_VER[$v]}, none past the end; got $chk"
    log "-- $v: untimed pass over all $NSTREAMS streams in $(since "$t0" 2) s, checked ($chk)"
done
[[ $(q "SELECT count(*) FROM generate_series(1, $NSTREAMS) s, generate_series(0, $PAGES) k,
                es.read_stream('up-' || s, $FIRST + k * $PAGE, $PAGE) e
         WHERE e.data ? 'description' AND e.data ? 'channel' AND NOT e.data ? 'note'") == "$TYPE_EVENTS" ]] ||
    die "read_stream did not return the upcast data for every Deposited event"

# Odd rounds run the four in order, even rounds in reverse, so that no
# variant always follows the same one.
REVERSED=$(tr ' ' '\n' <<<"$VARIANTS" | tac | tr '\n' ' ')
for ((r = 1; r <= ROUNDS; r++)); do
    order=$VARIANTS
    ((r % 2)) || order=$REVERSED
    log "-- round $r: $order"
    for v in $order; do
        pgbench_run "$v" "$READ_CLIENTS" "$READ_SECS" "$WORK/$v.sql"
        ev=$(awk -v t="$PGB_TPS" -v n="$PER_STREAM" 'BEGIN{printf "%.1f", t * n}')
        R[$v]+=" $ev"
        log "-- $v round $r: $PGB_TPS streams/s = $ev events/s"
    done
    say "round $r: read_stream none $(awk '{print $NF}' <<<"${R[read_none]}"), upcast $(awk '{print $NF}' <<<"${R[read_upcast]}")" \
        "= $(div "$(awk '{print $NF}' <<<"${R[read_upcast]}")" "$(awk '{print $NF}' <<<"${R[read_none]}")");" \
        "read_stream_raw none $(awk '{print $NF}' <<<"${R[raw_none]}"), upcast type $(awk '{print $NF}' <<<"${R[raw_upcast]}")" \
        "= $(div "$(awk '{print $NF}' <<<"${R[raw_upcast]}")" "$(awk '{print $NF}' <<<"${R[raw_none]}")") (events/s)"
done
for v in $VARIANTS; do
    R[${v}_med]=$(median <<<"${R[$v]}")
    log "$v events/s:${R[$v]} (median ${R[${v}_med]})"
done
say "medians of $ROUNDS: read_stream ${R[read_none_med]} (no upcasters) vs ${R[read_upcast_med]} (2 steps) events/s;" \
    "read_stream_raw ${R[raw_none_med]} vs ${R[raw_upcast_med]} events/s" \
    "(others used up to ${OTHER[read_none]}/${OTHER[read_upcast]}/${OTHER[raw_none]}/${OTHER[raw_upcast]}% CPU)"

# --- 2. capture-trigger overhead ------------------------------------------------------
echo "2. capture trigger, UPDATE pgbench_accounts, $UPD_CLIENTS clients:"
t0=$(date +%s%N)
"$PGBIN/pgbench" -i -q -s "$SCALE" bench >"$OUT/pgbench-init.log" 2>&1 ||
    { cat "$OUT/pgbench-init.log" >&2; die "pgbench -i failed"; }
log "-- pgbench -i -s $SCALE: $(since "$t0") s"
[[ $(q "SELECT count(*) FROM pgbench_accounts") == "$ACCOUNTS" ]] || die "pgbench_accounts does not have $ACCOUNTS rows"
if ((IMPORT)); then
    t0=$(date +%s%N)
    n=$(q "SELECT es.import_table('pgbench_accounts', 'account')")
    IMPORT_SECS=$(since "$t0")
    [[ $n == "$ACCOUNTS" ]] || die "es.import_table imported $n rows, expected $ACCOUNTS"
    say "es.import_table('pgbench_accounts', 'account'): $n rows in $IMPORT_SECS s (untimed setup)"
fi
cat >"$WORK/update.sql" <<EOF
\\set aid random(1, $ACCOUNTS)
\\set delta (random(0, 1) * 2 - 1) * random(1, 5000)
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
EOF
log "-- update script:"
log "$(cat "$WORK/update.sql")"

updated_events() { q "SELECT count(*) FROM es.events WHERE event_type = 'Updated'"; }
run_update() {   # KEY (update_plain | update_captured)
    local key=$1 ev0 ev1
    psql_ -d bench -c "VACUUM ANALYZE pgbench_accounts, pgbench_branches, pgbench_tellers, es.events, es.stream_catalog" \
        -c "CHECKPOINT" >/dev/null
    ev0=$(updated_events)
    pgbench_run "$key" "$UPD_CLIENTS" "$UPD_SECS" "$WORK/update.sql"
    ev1=$(updated_events)
    log "-- $key: $((ev1 - ev0)) Updated events appended, $PGB_TX transactions"
    if [[ $key == update_captured ]]; then
        ((ev1 - ev0 == PGB_TX)) || die "$key: $((ev1 - ev0)) Updated events for $PGB_TX updates"
    else
        ((ev1 == ev0)) || die "$key: $((ev1 - ev0)) Updated events appended without capture"
    fi
    R[$key]+=" $PGB_TPS"
}
RATIOS=""
for ((p = 1; p <= PAIRS; p++)); do
    if ((p > 1)); then
        q "SELECT es.uncapture_table('pgbench_accounts')" >/dev/null
    fi
    [[ $(q "SELECT count(*) FROM es.captured_tables") == 0 ]] || die "pgbench_accounts is still captured"
    run_update update_plain
    plain=$PGB_TPS
    oplain=$PGB_OTHER
    q "SELECT es.capture_table('pgbench_accounts', 'account')" >/dev/null
    [[ $(q "SELECT count(*) FROM es.captured_tables WHERE \"table\" = 'pgbench_accounts'::regclass AND enabled") == 1 ]] ||
        die "es.capture_table did not capture pgbench_accounts"
    run_update update_captured
    ratio=$(div "$PGB_TPS" "$plain" 3)
    RATIOS+=" $ratio"
    say "pair $p: plain $plain tps, captured $PGB_TPS tps, ratio $ratio (others used $oplain/$PGB_OTHER% CPU)"
done
R[update_plain_med]=$(median 3 <<<"${R[update_plain]}")
R[update_captured_med]=$(median 3 <<<"${R[update_captured]}")
R[capture_ratio]=$(median 3 <<<"$RATIOS")
SAMPLE=$(q "SELECT jsonb_build_object('type', event_type, 'data', data, 'metadata', metadata)::text FROM es.events
             WHERE event_type = 'Updated' ORDER BY global_position DESC LIMIT 1")
log "-- a captured event: $SAMPLE"
log "-- es.events: $(q "SELECT count(*) FROM es.events") events, $(q "SELECT pg_size_pretty(pg_total_relation_size('es.events'))")"

# --- server log ------------------------------------------------------------------
ERRS=$(grep -E 'ERROR|WARNING|FATAL|PANIC|terminated by signal' "$LOG" || true)
if [[ -n $ERRS ]]; then
    log "== server log: ERROR/WARNING/FATAL lines"
    log "$ERRS"
fi

# --- report --------------------------------------------------------------------------------
row() { printf '%-62s %14s %14s %7s\n' "$@"; }
{
    echo
    row "workload" "baseline" "product" "ratio"
    row "es.read_stream, whole streams, $PAGE/page, $READ_CLIENTS clients (events/s)" \
        "${R[read_none_med]}" "${R[read_upcast_med]}" "$(div "${R[read_upcast_med]}" "${R[read_none_med]}")"
    row "  control: es.read_stream_raw, same streams (events/s)" \
        "${R[raw_none_med]}" "${R[raw_upcast_med]}" "$(div "${R[raw_upcast_med]}" "${R[raw_none_med]}")"
    row "UPDATE pgbench_accounts, $UPD_CLIENTS clients (tps, median of $PAIRS)" \
        "${R[update_plain_med]}" "${R[update_captured_med]}" "$(div "${R[capture_ratio]}" 1)"
    echo "baselines: reads of an identical type without upcasters (product: 2 SQL-function steps per event);"
    echo "  the same UPDATE without the capture trigger (product: es.capture_table on pgbench_accounts);"
    echo "  the update ratio is the median of the per-pair ratios:$RATIOS"
    echo
    echo "read_none_events_per_s=${R[read_none_med]}"
    echo "read_upcast_events_per_s=${R[read_upcast_med]}"
    echo "upcast_read_ratio=$(div "${R[read_upcast_med]}" "${R[read_none_med]}")"
    echo "raw_none_events_per_s=${R[raw_none_med]}"
    echo "raw_upcast_events_per_s=${R[raw_upcast_med]}"
    echo "raw_read_ratio=$(div "${R[raw_upcast_med]}" "${R[raw_none_med]}")"
    echo "update_plain_tps=${R[update_plain_med]}"
    echo "update_captured_tps=${R[update_captured_med]}"
    echo "capture_ratio=$(div "${R[capture_ratio]}" 1)"
    echo "capture_ratios=${RATIOS# }"
    if [[ -n $ERRS ]]; then
        echo "server log: $(wc -l <<<"$ERRS") ERROR/WARNING/FATAL lines (in $RESULT)"
    fi
    report_other_cpu
    echo "run time: $(($(date +%s) - T_START)) s"
} | tee -a "$RESULT"
note_so_changed
echo "raw figures: $RESULT"
