# shellcheck shell=bash disable=SC2034
# bench/lib.sh -- shared by bench/run.sh and bench/profile.sh (sourced, not run).
#
# Before sourcing, the caller sets OUT (its directory under bench/out) and may
# set PORT.  start_cluster makes a throwaway cluster in $OUT/data, reachable
# only through a unix socket, and stops it when the calling script exits.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=$OUT/data
LOG=$OUT/server.log
WORK=$OUT/work

STREAMS=1000          # streams of the single-append test
BATCH_STREAMS=100     # streams of the batch test
BATCH_SIZE=100        # events per batch
DATA_JSON='{"amount": 100, "currency": "EUR", "note": "benchmark event"}'

die() { echo "bench: $*" >&2; exit 1; }

# --- the PostgreSQL installation ---------------------------------------------
# PG=MAJOR picks the server as make test does (scripts/lib.sh): 15 on this
# host; 17 and 18 in their Debian roots, where the script runs again, after
# building and installing the extension for that server.
if [[ -n ${PG:-} ]]; then
    # shellcheck source=scripts/lib.sh
    . "$BENCH_DIR/../scripts/lib.sh"
    es_enter_root "$0" "$@"
    [[ -z ${ES_IN_ROOT:-} ]] || "$ES_SCRIPTS/install.sh" >/dev/null
fi
PG_CONFIG=${PG_CONFIG:-pg_config}
command -v "$PG_CONFIG" >/dev/null 2>&1 || die "pg_config not found; set PG_CONFIG"
PGBIN=$("$PG_CONFIG" --bindir)
PKGLIB=$("$PG_CONFIG" --pkglibdir)
for b in initdb pg_ctl psql pgbench postgres; do
    [[ -x $PGBIN/$b ]] || die "$PGBIN/$b not found"
done
[[ -f $PKGLIB/event_streaming.so ]] ||
    die "event_streaming is not installed in $PKGLIB; run 'make install' first"

# Postgres refuses to run as root: as root, the server runs as BENCH_OS_USER.
if [[ $(id -u) -eq 0 ]]; then
    OS_USER=${BENCH_OS_USER:-postgres}
    id "$OS_USER" >/dev/null 2>&1 || die "running as root needs OS user '$OS_USER' for the server"
    as_server() { runuser -u "$OS_USER" -- "$@"; }
else
    OS_USER=$(id -un)
    as_server() { "$@"; }
fi

# Tuned but production-like: durable (fsync, full_page_writes and
# synchronous_commit stay on), WAL and checkpoints sized so that no checkpoint
# falls inside a run (the scripts checkpoint before each run instead).
SETTINGS=(
    "shared_preload_libraries = 'event_streaming'"
    "shared_buffers = '1GB'"
    "max_wal_size = '4GB'"
    "min_wal_size = '1GB'"
    "checkpoint_timeout = '30min'"
    "checkpoint_completion_target = 0.9"
    "wal_level = 'replica'"
    "synchronous_commit = 'on'"
    "fsync = 'on'"
    "full_page_writes = 'on'"
    "wal_compression = 'off'"
    "max_connections = 40"
    "maintenance_work_mem = '256MB'"
    "effective_cache_size = '8GB'"
    "random_page_cost = 1.1"
    "autovacuum = 'on'"
    "jit = 'off'"
)
SETTING_NAMES="'shared_preload_libraries', 'shared_buffers', 'wal_buffers', 'max_wal_size',
               'min_wal_size', 'checkpoint_timeout', 'checkpoint_completion_target',
               'wal_level', 'synchronous_commit', 'fsync', 'full_page_writes',
               'wal_sync_method', 'wal_compression', 'max_connections',
               'effective_cache_size', 'random_page_cost', 'autovacuum', 'jit'"

psql_() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
q() { psql_ -d bench -At -c "$1"; }

STARTED=0
SOCK_TMP=0
cleanup() {
    local rc=$?
    if ((STARTED)); then
        as_server "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 120 stop >/dev/null 2>&1 ||
            as_server "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if ((SOCK_TMP)); then rm -rf "$SOCK"; fi
    # The data directory (about 1.5 GB of WAL and tables) is only kept after a
    # failure, for its log and state, or with BENCH_KEEP=1.
    if ((rc == 0)) && [[ -z ${BENCH_KEEP:-} ]]; then rm -rf "$DATA"; fi
    if ((rc != 0)); then
        echo "bench: failed (exit $rc); server log: $LOG" >&2
    fi
    exit $rc
}

start_cluster() {
    mkdir -p "$OUT"
    if [[ -f $DATA/postmaster.pid ]]; then
        # left over by an interrupted earlier run of this script
        as_server "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DATA" "$WORK"
    mkdir -p "$DATA" "$WORK"
    : >"$LOG"

    # unix_socket_directories has a short path limit: fall back to /tmp.
    SOCK=$OUT/sock
    if ((${#SOCK} > 80)); then
        SOCK=$(mktemp -d /tmp/es-bench.XXXXXX)
        SOCK_TMP=1
    fi
    mkdir -p "$SOCK"
    if [[ $(id -u) -eq 0 ]]; then
        chown "$OS_USER" "$DATA" "$SOCK" "$LOG"
        chmod 700 "$DATA"
        runuser -u "$OS_USER" -- test -w "$DATA" ||
            die "OS user $OS_USER cannot write $DATA (a parent directory is not searchable?)"
    fi

    trap cleanup EXIT
    trap 'exit 130' INT TERM

    as_server "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --no-locale -E UTF8 \
        >"$OUT/initdb.log" 2>&1 || die "initdb failed, see $OUT/initdb.log"
    {
        echo
        echo "# --- bench/ ---"
        echo "port = $PORT"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$SOCK'"
        printf '%s\n' "${SETTINGS[@]}"
    } >>"$DATA/postgresql.conf"

    STARTED=1
    as_server "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 start >/dev/null ||
        die "server did not start, see $LOG"

    export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres
    unset PGDATABASE PGOPTIONS PGSERVICE PGPASSWORD || true
    psql_ -d postgres -c "CREATE DATABASE bench" >/dev/null
}

# --- the library under test ---------------------------------------------------
# The server loads the library at start; a later 'make install' does not
# change what a run measures, and the summary says when one happened.
so_md5() { md5sum <"$PKGLIB/event_streaming.so" | cut -c1-12; }
start_cluster_pinned() {
    SO_MD5=$(so_md5)
    start_cluster
    [[ $(so_md5) == "$SO_MD5" ]] || die "event_streaming.so changed while the server started; run again"
}
note_so_changed() {   # appends to $RESULT
    if [[ $(so_md5) != "$SO_MD5" ]]; then
        echo "note: event_streaming.so was reinstalled during the run (now md5 $(so_md5));" \
            "the server kept the one it loaded at start (md5 $SO_MD5)" | tee -a "$RESULT"
    fi
}

# --- schema: the extension, and baselines shaped exactly like es.events ------
create_schema() {
    psql_ -d bench >/dev/null <<'SQL'
CREATE EXTENSION event_streaming;
-- bench_raw / bench_raw2: LIKE ... INCLUDING ALL copies every column, default,
-- CHECK constraint and index of es.events (PK on global_position,
-- UNIQUE (stream, stream_offset), UNIQUE (event_id),
-- btree (event_type, global_position), the partial btree on correlation_id,
-- the BRIN on created_at), so the baselines follow the install script.
-- global_position is fed by a sequence DEFAULT.
CREATE SEQUENCE bench_raw_gp_seq;
CREATE SEQUENCE bench_raw_offset_seq;
CREATE TABLE bench_raw (LIKE es.events INCLUDING ALL);
ALTER TABLE bench_raw ALTER COLUMN global_position SET DEFAULT nextval('bench_raw_gp_seq');
CREATE SEQUENCE bench_raw2_gp_seq;
CREATE SEQUENCE bench_raw2_offset_seq;
CREATE TABLE bench_raw2 (LIKE es.events INCLUDING ALL);
-- COPY sends stream, event_type, data; the rest comes from defaults, the way
-- es.append_batch makes its positions, offsets and ids itself.
ALTER TABLE bench_raw2 ALTER COLUMN global_position SET DEFAULT nextval('bench_raw2_gp_seq'),
                       ALTER COLUMN stream_offset SET DEFAULT nextval('bench_raw2_offset_seq'),
                       ALTER COLUMN event_id SET DEFAULT gen_random_uuid();
SQL

    # Same indexes?  Compare the definitions with table and index names removed.
    local ev t
    ev=$(index_shape es.events)
    for t in bench_raw bench_raw2; do
        [[ $(index_shape $t) == "$ev" ]] ||
            die "$t does not have the indexes of es.events:"$'\n'"$(index_shape $t)"$'\n'"vs"$'\n'"$ev"
    done
    N_INDEXES=$(q "SELECT count(*) FROM pg_index WHERE indrelid = 'es.events'::regclass")
}

index_shape() {
    q "SELECT string_agg(d, E'\n' ORDER BY d)
         FROM (SELECT regexp_replace(pg_get_indexdef(indexrelid),
                                     '^CREATE (UNIQUE )?INDEX \S+ ON \S+ ', 'CREATE \1INDEX ON t ') AS d
                 FROM pg_index WHERE indrelid = '$1'::regclass) i"
}

# --- workload files (pgbench scripts; psql scripts of $BATCHES batches) ------
make_workload_files() {
    local i k ev array
    cat >"$WORK/append.sql" <<EOF
\\set sid random(1, $STREAMS)
SELECT es.append('bench-' || :sid, 'Deposited', '$DATA_JSON'::jsonb);
EOF
    # stream_offset: a sequence, so it is unique per stream (it is unique
    # overall) without any lock; event_id: gen_random_uuid().
    cat >"$WORK/insert.sql" <<EOF
\\set sid random(1, $STREAMS)
INSERT INTO bench_raw (stream, stream_offset, event_id, event_type, data) VALUES ('bench-' || :sid, nextval('bench_raw_offset_seq'), gen_random_uuid(), 'Deposited', '$DATA_JSON'::jsonb) RETURNING stream_offset;
EOF
    [[ -n ${BATCHES:-} ]] || return 0

    # Batch: one prebuilt 100-event array literal; batch i goes to stream
    # batch-((i-1) % 100 + 1).  COPY reads 100 rows of the same events for
    # that stream from a file.
    ev="{\"type\": \"Deposited\", \"data\": $DATA_JSON}"
    array=$ev
    for ((i = 1; i < BATCH_SIZE; i++)); do array+=", $ev"; done
    array="[$array]"
    for ((k = 1; k <= BATCH_STREAMS; k++)); do
        for ((i = 0; i < BATCH_SIZE; i++)); do
            printf 'batch-%d\tDeposited\t%s\n' "$k" "$DATA_JSON"
        done >"$WORK/rows-$k.tsv"
    done
    for ((i = 1; i <= BATCHES; i++)); do
        k=$(((i - 1) % BATCH_STREAMS + 1))
        printf "SELECT es.append_batch('batch-%d', '%s'::jsonb);\n" "$k" "$array"
    done >"$WORK/append_batch.sql"
    for ((i = 1; i <= BATCHES; i++)); do
        k=$(((i - 1) % BATCH_STREAMS + 1))
        printf "\\\\copy bench_raw2 (stream, event_type, data) from '%s'\n" "$WORK/rows-$k.tsv"
    done >"$WORK/copy.sql"
}

# Every measurement starts from the same state: empty tables, every stream
# already existing (one event each), fresh statistics, a checkpoint just done.
reset_state() {
    psql_ -d bench >/dev/null <<SQL
SET session_replication_role = replica;  -- past es.events_guard
TRUNCATE es.events, es.stream_catalog, es.queues, es.dead_letter_messages, bench_raw, bench_raw2;
ALTER SEQUENCE es.global_position_seq RESTART;
ALTER SEQUENCE bench_raw_gp_seq RESTART;
ALTER SEQUENCE bench_raw_offset_seq RESTART;
ALTER SEQUENCE bench_raw2_gp_seq RESTART;
ALTER SEQUENCE bench_raw2_offset_seq RESTART;
SELECT es.append('bench-' || i, 'Opened', '{}') FROM generate_series(1, $STREAMS) i;
SELECT es.append('batch-' || i, 'Opened', '{}') FROM generate_series(1, $BATCH_STREAMS) i;
INSERT INTO bench_raw (stream, stream_offset, event_id, event_type, data)
  SELECT 'bench-' || i, nextval('bench_raw_offset_seq'), gen_random_uuid(), 'Opened', '{}'
    FROM generate_series(1, $STREAMS) i;
INSERT INTO bench_raw2 (stream, event_type, data)
  SELECT 'batch-' || i, 'Opened', '{}' FROM generate_series(1, $BATCH_STREAMS) i;
VACUUM ANALYZE es.events, es.stream_catalog, bench_raw, bench_raw2;
CHECKPOINT;
SQL
}

# --- CPU accounting (run.sh, queue.sh, retention.sh) --------------------------
# CPU accounting, to tell whether something else ran on the machine during a
# measurement: busy ticks of the whole machine minus the ticks of this
# script's processes (the server's processes, the backends it has reaped, and
# the clients this shell has reaped).
TICKS=$(getconf CLK_TCK)
NCPU=$(nproc)
machine_busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
proc_ticks() {   # PID [with_children] -> utime+stime (+ cutime+cstime)
    local f
    f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    f=${f##*) }
    awk -v c="${2:-0}" '{print $12 + $13 + (c ? $14 + $15 : 0)}' <<<"$f"
}
own_ticks() {
    local pm t=0 c
    pm=$(head -1 "$DATA/postmaster.pid")
    t=$(($(proc_ticks "$pm" 1) + $(proc_ticks $$ 1)))
    for c in $(pgrep -P "$pm"); do
        t=$((t + $(proc_ticks "$c")))
    done
    echo "$t"
}
cpu_mark() { echo "$(date +%s%N) $(machine_busy) $(own_ticks)"; }
other_cpu() {   # MARK_BEFORE MARK_AFTER -> percent of all CPUs used by others
    awk -v hz="$TICKS" -v n="$NCPU" -v a="$1" -v b="$2" 'BEGIN{
        split(a, x, " "); split(b, y, " ");
        wall = (y[1] - x[1]) / 1e9 * hz * n;
        o = ((y[2] - x[2]) - (y[3] - x[3])) / wall * 100;
        printf "%.0f", (o < 0 ? 0 : o) }'
}

# The largest share of the CPUs other processes took during a measurement
# (OTHER[key] = percent), as the summary's last line.
report_other_cpu() {
    local worst=0 wk=- k
    for k in "${!OTHER[@]}"; do
        if ((OTHER[$k] > worst)); then worst=${OTHER[$k]}; wk=$k; fi
    done
    if ((worst >= 10)); then
        echo "WARNING: other processes used up to $worst% of the CPUs during a measurement ($wk);" \
            "the figures are disturbed -- rerun on a quiet machine"
    else
        echo "other processes used at most $worst% of the CPUs during any measurement"
    fi
}

# --- the pgmq baseline table (queue.sh, soak.sh) ------------------------------
# pgmq.create('bench'), non-partitioned, as in pgmq.sql (the archive table,
# which neither read nor delete touches, is left out).
PGMQ_TABLE_SQL="CREATE TABLE bench_pgmq (
    msg_id      bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    read_ct     int DEFAULT 0 NOT NULL,
    enqueued_at timestamptz DEFAULT now() NOT NULL,
    vt          timestamptz NOT NULL,
    message     jsonb,
    headers     jsonb
);
CREATE INDEX bench_pgmq_vt_idx ON bench_pgmq (vt ASC);"
