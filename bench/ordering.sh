#!/usr/bin/env bash
# bench/ordering.sh -- what the ordered reads of 0.4.0 cost: the append path
# with the settled-horizon bookkeeping and the commit notifications, es.read_all
# against a plain keyset scan, and projections run by the background worker.
#
#   make install && make bench-ordering        (or: bench/ordering.sh)
#   BENCH_SECONDS=5 BENCH_EVENTS=100000 BENCH_LAT_SECONDS=5 bench/ordering.sh   (quick check)
#
# Starts a throwaway cluster in bench/out/ordering/data (unix socket only, the
# settings of bench/lib.sh, synchronous_commit=on; the background worker
# serves the bench database: event_streaming.databases = 'bench') and, in ONE
# run, measures:
#
#   1. Append, 8 clients: pgbench -n -M prepared -c 8 -j 2 -T BENCH_SECONDS of
#        es.append('bench-' || random(1, 1000), 'Deposited', <data>)
#      against an INSERT of the same row into bench_raw, created
#      LIKE es.events INCLUDING ALL: its indexes are copied from the indexes
#      es.events has in this build (0.4.0: also events_category_idx on
#      (split_part(stream, '-', 1), global_position)), and the script stops
#      unless both index sets are identical apart from names.  Same starting
#      state for both (bench/lib.sh reset_state: 1000 streams seeded, VACUUM
#      ANALYZE, CHECKPOINT).  -> append_8c_ratio = es.append / INSERT.
#   2. Scan.  BENCH_EVENTS events are loaded through es.append_batch (batches
#      of 100, synchronous_commit=off, not measured): 5 categories cat1..cat5
#      of 200 streams each, batch i to category i % 5 + 1, so every category
#      is spread over the whole table in runs of 100 positions.  Then VACUUM
#      ANALYZE, CHECKPOINT, one untimed pass of each query.  One client (the
#      libpq driver below, the same for both sides, one prepared statement,
#      text results, every row received) reads everything by keyset pages of
#      BENCH_PAGE rows, passing the last position received, until a page
#      comes back empty; the driver checks that positions strictly increase
#      and the script that every event was read:
#        product:  SELECT <the 11 columns of es.event> FROM es.read_all($1, $2)
#        baseline: SELECT <same columns> FROM es.events
#                   WHERE global_position > $1 ORDER BY global_position LIMIT $2
#      and the same filtered to category cat1 (1/5 of the events):
#        product:  es.read_all($1, $2, ARRAY['cat1'])
#        baseline: ... WHERE split_part(stream, '-', 1) = 'cat1'
#                        AND global_position > $1 ORDER BY global_position LIMIT $2
#      BENCH_SCAN_REPEAT timed passes of each, alternating baseline and
#      product; the median is reported.  -> read_all_ratio, read_all_cat_ratio.
#   3. Projection throughput over category cat1 (BENCH_EVENTS / 5 events
#      already stored), handler: a PL/pgSQL function upserting one row per
#      stream (event count, last position) into its own read-model table:
#        hand:    es.create_projection('bench_hand', 'cat1', ...) with the
#                 worker's projections switched off (event_streaming.projections
#                 = off), then the driver calls
#                   SELECT es.run_projection('bench_hand', BENCH_PAGE)
#                 (autocommit) until it returns 0;
#        plain:   for scale, the same handler over the same events with no
#                 projection machinery: the driver's keyset loop over
#                   SELECT e.global_position, bench_apply_plain(ROW(e.*)::es.event)
#                     FROM es.events e WHERE split_part(e.stream, '-', 1) = 'cat1'
#                      AND e.global_position > $1 ORDER BY 1 LIMIT $2
#                 (one transaction per page of BENCH_PAGE, like run_projection);
#        worker:  event_streaming.projections switched on (ALTER SYSTEM,
#                 reload), then es.create_projection('bench_worker', 'cat1', ...);
#                 a DO block polls es.projections every 10 ms until
#                 events_applied reaches the count and lag is 0.  Reported:
#                 events/s from the creation's commit, the delay before the
#                 first applied event, and events/s from then on.  No
#                 progress for BENCH_STALL_SECONDS = stalled (reported, with
#                 the projection's row, and the run fails at its end).
#      Each read model is checked: one count per stream adding up to the
#      category's events, last position = the stream's highest position.
#   4. Latency, commit -> projection applied.  The worker runs projection
#      bench_lat over category 'lat' (empty before); its handler inserts
#      (global_position, clock_timestamp()) into bench_lat_rm and sends
#      pg_notify('bench_applied', <position>).  The driver holds two
#      connections and one monotonic clock: one LISTENs on bench_applied,
#      the other appends (autocommit)
#        SELECT (es.append_event('lat-' || k, 'Ping', <data>)).global_position
#      on a fixed schedule of BENCH_LAT_RATE per second for BENCH_LAT_SECONDS,
#      one at a time (the next append waits for the previous notification).
#      Per event: t1 = the append's reply (sent after COMMIT), t2 = the
#      notification with its position (sent when the worker's transaction
#      commits, i.e. when the read-model row becomes visible).  -> p50/p99/max
#      of t2 - t1.  Also, from the server clock: the handler's
#      clock_timestamp() minus the client's wall-clock time at t1 (commit ->
#      handler ran, before the worker's commit).  A notification missing for
#      BENCH_STALL_SECONDS = stalled, reported as above.
#
# For every measurement the script records the CPU share that other
# processes took (bench/lib.sh).  Prints a table and key=value lines, writes
# raw figures to bench/out/ordering-last-run.txt (latency samples:
# bench/out/ordering/latency-raw.txt), and stops the cluster on exit.
# Installs nothing and never touches a system cluster.
#
# Environment:
#   BENCH_SECONDS        seconds per pgbench run of the append test      (default 30)
#   BENCH_EVENTS         events loaded for the scans and projections, a multiple of 500 (default 1000000)
#   BENCH_PAGE           max_count per read / max_events per run_projection (default 1000)
#   BENCH_SCAN_REPEAT    timed passes of each scan                       (default 5)
#   BENCH_LAT_RATE       appends per second in the latency test          (default 200)
#   BENCH_LAT_SECONDS    seconds of the latency test                     (default 20)
#   BENCH_STALL_SECONDS  seconds without progress that count as a stall  (default 30)
#   BENCH_PORT           port of the throwaway server                    (default 54346)
#   BENCH_KEEP           set to keep bench/out/ordering/data after a successful run
#   PG_CONFIG            pg_config of the server to use                  (default: first in PATH)
#   CC                   C compiler for the libpq driver                 (default cc)
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out/ordering
RESULT=$(dirname "$OUT")/ordering-last-run.txt
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "bench: $1 must be a positive integer" >&2; exit 1; }; }
SECS=${BENCH_SECONDS:-30};               posint BENCH_SECONDS "$SECS"
EVENTS=${BENCH_EVENTS:-1000000};         posint BENCH_EVENTS "$EVENTS"
PAGE=${BENCH_PAGE:-1000};                posint BENCH_PAGE "$PAGE"
REPEAT=${BENCH_SCAN_REPEAT:-5};          posint BENCH_SCAN_REPEAT "$REPEAT"
LAT_RATE=${BENCH_LAT_RATE:-200};         posint BENCH_LAT_RATE "$LAT_RATE"
LAT_SECS=${BENCH_LAT_SECONDS:-20};       posint BENCH_LAT_SECONDS "$LAT_SECS"
STALL=${BENCH_STALL_SECONDS:-30};        posint BENCH_STALL_SECONDS "$STALL"
((EVENTS % 500 == 0)) || { echo "bench: BENCH_EVENTS must be a multiple of 500" >&2; exit 1; }
((PAGE <= 10000)) || { echo "bench: BENCH_PAGE is at most 10000 (event_streaming.max_read_count)" >&2; exit 1; }
((LAT_RATE <= 10000)) || { echo "bench: BENCH_LAT_RATE is at most 10000" >&2; exit 1; }
# shellcheck disable=SC2034  # used by lib.sh
PORT=${BENCH_PORT:-54346}
CATS=5             # categories of the loaded events
CAT_STREAMS=200    # streams per category
LOAD_BATCH=100     # events per es.append_batch call of the load
CAT_EVENTS=$((EVENTS / CATS))
LAT_SAMPLES=$((LAT_RATE * LAT_SECS))
COLS="global_position, stream, stream_offset, event_id, event_type, schema_version, data, metadata,
       correlation_id, causation_id, created_at"

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v "${CC:-cc}" >/dev/null 2>&1 || die "no C compiler (cc) for the libpq driver; set CC"

# The worker serves the bench database; its projections start switched off
# (the hand-driven projection must not be run by the worker as well).
SETTINGS+=("event_streaming.databases = 'bench'" "event_streaming.projections = off")

# --- the libpq driver -----------------------------------------------------------------
mkdir -p "$OUT"
DRIVER_C=$OUT/ordering_client.c
cat >"$DRIVER_C" <<'CSRC'
/*
 * ordering_client -- libpq driver of bench/ordering.sh (written and built by
 * it; edit it there).  Connection from the PG* environment, dbname=bench.
 *
 *   scan SQL PAGE
 *       SQL takes ($1 = last position received, $2 = PAGE) and returns rows
 *       whose first column is the global position, ascending.  Loops from 0
 *       until a page comes back empty; checks that positions strictly
 *       increase.  Prints rows= pages= seconds= last=.
 *   until0 SQL
 *       runs SQL (one bigint) until it returns 0.  Prints calls= total= seconds=.
 *   latency SQL SAMPLES RATE TIMEOUT_S RAW_FILE
 *       SQL takes ($1 = stream) and returns the appended global position.  One
 *       connection LISTENs on bench_applied, the other runs SQL on a fixed
 *       schedule of RATE per second, each time waiting for the notification
 *       whose payload is the appended position.  RAW_FILE: one line per
 *       sample "i position t0 t1 t2 wall1" (t: monotonic microseconds since
 *       the start; t0 send, t1 reply, t2 notification; wall1 = wall clock at
 *       t1, microseconds since the epoch).  Prints samples= seconds= late=.
 *       Exits 3 when a reply or notification does not come within TIMEOUT_S.
 *
 * Timing excludes connecting and preparing.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static void
die(const char *what, PGconn *c)
{
	fprintf(stderr, "ordering_client: %s%s%s\n", what, c ? ": " : "", c ? PQerrorMessage(c) : "");
	exit(1);
}

static double
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long long
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static PGconn *
connect_db(void)
{
	PGconn	   *c = PQconnectdb("dbname=bench");

	if (PQstatus(c) != CONNECTION_OK)
		die("connection failed", c);
	return c;
}

static void
prepare(PGconn *c, const char *sql, int nparams)
{
	PGresult   *r = PQprepare(c, "q", sql, nparams, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die(sql, c);
	PQclear(r);
}

static int
scan(const char *sql, const char *page)
{
	PGconn	   *c = connect_db();
	char		last[32] = "0";
	const char *params[2];
	long long	prev = 0,
				rows = 0,
				pages = 0;
	double		t0,
				t1;

	prepare(c, sql, 2);
	params[1] = page;
	t0 = mono_us();
	for (;;)
	{
		PGresult   *r;
		int			n;

		params[0] = last;
		r = PQexecPrepared(c, "q", 2, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("scan query failed", c);
		pages++;
		n = PQntuples(r);
		for (int i = 0; i < n; i++)
		{
			long long	p = strtoll(PQgetvalue(r, i, 0), NULL, 10);

			if (p <= prev)
			{
				fprintf(stderr, "ordering_client: position %lld after %lld (page %lld, row %d)\n",
						p, prev, pages, i);
				exit(2);
			}
			prev = p;
		}
		PQclear(r);
		if (n == 0)
			break;
		rows += n;
		snprintf(last, sizeof last, "%lld", prev);
	}
	t1 = mono_us();
	printf("rows=%lld pages=%lld seconds=%.6f last=%lld\n", rows, pages, (t1 - t0) / 1e6, prev);
	PQfinish(c);
	return 0;
}

static int
until0(const char *sql)
{
	PGconn	   *c = connect_db();
	long long	calls = 0,
				total = 0,
				v;
	double		t0,
				t1;

	prepare(c, sql, 0);
	t0 = mono_us();
	do
	{
		PGresult   *r = PQexecPrepared(c, "q", 0, NULL, NULL, NULL, 0);

		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			die("until0 query failed", c);
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		calls++;
		total += v;
	} while (v != 0 && calls < 100000000);
	t1 = mono_us();
	printf("calls=%lld total=%lld seconds=%.6f\n", calls, total, (t1 - t0) / 1e6);
	PQfinish(c);
	return 0;
}

/* notifications seen but not yet matched with an append */
static long long *seen_pos;
static double *seen_at;
static int	nseen,
			maxseen;

static void
drain_notifies(PGconn *l)
{
	PGnotify   *n;

	if (!PQconsumeInput(l))
		die("listener connection lost", l);
	while ((n = PQnotifies(l)) != NULL)
	{
		if (nseen == maxseen)
		{
			maxseen = maxseen ? 2 * maxseen : 64;
			seen_pos = realloc(seen_pos, maxseen * sizeof(long long));
			seen_at = realloc(seen_at, maxseen * sizeof(double));
			if (!seen_pos || !seen_at)
				die("out of memory", NULL);
		}
		seen_pos[nseen] = strtoll(n->extra, NULL, 10);
		seen_at[nseen] = mono_us();
		nseen++;
		PQfreemem(n);
	}
}

static int
take_seen(long long pos, double *at)
{
	for (int i = 0; i < nseen; i++)
		if (seen_pos[i] == pos)
		{
			*at = seen_at[i];
			seen_pos[i] = seen_pos[nseen - 1];
			seen_at[i] = seen_at[nseen - 1];
			nseen--;
			return 1;
		}
	return 0;
}

static int
latency(const char *sql, int samples, int rate, int timeout_s, const char *rawfile)
{
	PGconn	   *a = connect_db(),
			   *l = connect_db();
	PGresult   *r;
	FILE	   *raw = fopen(rawfile, "w");
	double		start,
				interval = 1e6 / rate;
	int			late = 0;

	if (raw == NULL)
		die("cannot open RAW_FILE", NULL);
	r = PQexec(l, "LISTEN bench_applied");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("LISTEN failed", l);
	PQclear(r);
	prepare(a, sql, 1);
	start = mono_us();
	for (int i = 0; i < samples; i++)
	{
		char		stream[32];
		const char *params[1] = {stream};
		double		due = start + i * interval,
					now = mono_us(),
					t0,
					t1 = 0,
					t2 = 0;
		long long	pos = -1,
					wall1 = 0;
		int			have_reply = 0,
					have_applied = 0;

		if (now < due)
		{
			struct timespec ts;
			double		d = due - now;

			ts.tv_sec = (time_t) (d / 1e6);
			ts.tv_nsec = (long) ((d - ts.tv_sec * 1e6) * 1000);
			nanosleep(&ts, NULL);
		}
		else if (now - due > 1000)
			late++;
		snprintf(stream, sizeof stream, "lat-%d", i % 100 + 1);
		t0 = mono_us();
		if (!PQsendQueryPrepared(a, "q", 1, params, NULL, NULL, 0))
			die("send failed", a);
		while (!have_reply || !have_applied)
		{
			struct pollfd fds[2];
			int			rc;

			if (have_reply && take_seen(pos, &t2))
			{
				have_applied = 1;
				break;
			}
			fds[0].fd = PQsocket(l);
			fds[0].events = POLLIN;
			fds[1].fd = PQsocket(a);
			fds[1].events = have_reply ? 0 : POLLIN;
			rc = poll(fds, 2, 100);
			if (rc < 0 && errno != EINTR)
				die("poll failed", NULL);
			if (rc > 0 && (fds[0].revents & POLLIN))
				drain_notifies(l);
			if (rc > 0 && !have_reply && (fds[1].revents & POLLIN))
			{
				double		at = mono_us();

				if (!PQconsumeInput(a))
					die("append connection lost", a);
				while (!PQisBusy(a))
				{
					PGresult   *res = PQgetResult(a);

					if (res == NULL)
					{
						have_reply = 1;
						t1 = at;
						wall1 = wall_us();
						break;
					}
					if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
						die("append failed", a);
					pos = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
					PQclear(res);
				}
			}
			if (mono_us() - (have_reply ? t1 : t0) > timeout_s * 1e6)
			{
				if (!have_reply)
					fprintf(stderr, "ordering_client: sample %d: no reply to the append within %d s\n",
							i, timeout_s);
				else
					fprintf(stderr, "ordering_client: sample %d: position %lld appended and committed, "
							"no notification from the projection within %d s\n", i, pos, timeout_s);
				fprintf(raw, "# stalled at sample %d position %lld\n", i, pos);
				fclose(raw);
				return 3;
			}
		}
		fprintf(raw, "%d %lld %.1f %.1f %.1f %lld\n", i, pos, t0 - start, t1 - start, t2 - start, wall1);
	}
	fclose(raw);
	printf("samples=%d seconds=%.3f late=%d\n", samples, (mono_us() - start) / 1e6, late);
	PQfinish(a);
	PQfinish(l);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "scan") == 0)
		return scan(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "until0") == 0)
		return until0(argv[2]);
	if (argc == 7 && strcmp(argv[1], "latency") == 0)
		return latency(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6]);
	fprintf(stderr, "usage: ordering_client scan SQL PAGE | until0 SQL | "
			"latency SQL SAMPLES RATE TIMEOUT_S RAW_FILE\n");
	return 2;
}
CSRC
DRIVER=$OUT/ordering_client
"${CC:-cc}" -O2 -Wall -Werror -o "$DRIVER" "$DRIVER_C" \
    -I"$("$PG_CONFIG" --includedir)" -L"$("$PG_CONFIG" --libdir)" -lpq ||
    die "could not build the libpq driver $DRIVER_C (needs libpq-dev)"

start_cluster_pinned

# --- schema ------------------------------------------------------------------------
create_schema   # the extension; bench_raw LIKE es.events INCLUDING ALL, same indexes (checked)
make_workload_files
EXTVER=$(q "SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'")
for f in 'es.read_all(bigint,integer,text[],text[])' 'es.run_projection(text,integer)' \
    'es.create_projection(text,text,regprocedure,text,text)' 'es.settled_position()'; do
    [[ -n $(q "SELECT to_regprocedure('$f')") ]] ||
        die "$f is not installed (extension version $EXTVER, 0.4.0 needed); run 'make install'"
done
[[ $(q "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'bench_raw'
          AND indexdef LIKE '%split_part(stream%'") == 1 ]] ||
    die "bench_raw has no category index (split_part(stream, '-', 1), ...): es.events lacks it?"
INDEX_LIST=$(q "SELECT string_agg(indexname, ', ' ORDER BY indexname) FROM pg_indexes
                 WHERE schemaname = 'es' AND tablename = 'events'")

psql_ -d bench >/dev/null <<SQL
-- read models: one row per stream (events applied, last position applied)
CREATE TABLE bench_rm_hand (stream text PRIMARY KEY, events bigint NOT NULL, last_position bigint NOT NULL);
CREATE TABLE bench_rm_plain (LIKE bench_rm_hand INCLUDING ALL);
CREATE TABLE bench_rm_worker (LIKE bench_rm_hand INCLUDING ALL);
CREATE FUNCTION bench_apply_hand(e es.event) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.bench_rm_hand AS r (stream, events, last_position) VALUES (e.stream, 1, e.global_position)
    ON CONFLICT (stream) DO UPDATE SET events = r.events + 1, last_position = excluded.last_position;
END
\$\$;
CREATE FUNCTION bench_apply_plain(e es.event) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.bench_rm_plain AS r (stream, events, last_position) VALUES (e.stream, 1, e.global_position)
    ON CONFLICT (stream) DO UPDATE SET events = r.events + 1, last_position = excluded.last_position;
END
\$\$;
CREATE FUNCTION bench_apply_worker(e es.event) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.bench_rm_worker AS r (stream, events, last_position) VALUES (e.stream, 1, e.global_position)
    ON CONFLICT (stream) DO UPDATE SET events = r.events + 1, last_position = excluded.last_position;
END
\$\$;
-- latency: when the handler ran (server clock), and a notification at the
-- worker's commit
CREATE TABLE bench_lat_rm (global_position bigint PRIMARY KEY, applied_at timestamptz NOT NULL);
CREATE FUNCTION bench_apply_lat(e es.event) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.bench_lat_rm VALUES (e.global_position, clock_timestamp());
    PERFORM pg_notify('bench_applied', e.global_position::text);
END
\$\$;
CREATE TABLE bench_lat_client (i int, global_position bigint, t0 float8, t1 float8, t2 float8, wall1 bigint);
SQL

# --- helpers ---------------------------------------------------------------------
declare -A R OTHER NOTE
FAILED=0
since() { awk -v a="$1" -v b="$(date +%s%N)" -v d="${2:-1}" 'BEGIN{printf "%.*f", d, (b - a) / 1e9}'; }
say() { echo "  $*" | tee -a "$RESULT"; }
log() { echo "$*" >>"$RESULT"; }
div() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN{if (b == 0 || a == "-" || b == "-") print "-"; else printf "%.*f", d, a / b}'; }
kv() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1" | head -1; }   # TEXT KEY -> value of KEY=value
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[++n] = $1} END {print (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2}'; }
max_other() {   # KEY PERCENT: keep the largest share seen for KEY
    if [[ -z ${OTHER[$1]:-} ]] || (($2 > OTHER[$1])); then OTHER[$1]=$2; fi
}
projection_row() { q "SELECT row_to_json(p) FROM es.projections p WHERE name = '$1'"; }
stalled() {   # KEY MESSAGE: note a failure, keep going, fail at the end
    NOTE[$1]+="$2; "
    FAILED=1
    say "PROBLEM ($1): $2"
}

# run_append KEY SCRIPT TABLE SEEDROWS -> R[KEY] = tps (pgbench -c 8 -j 2)
run_append() {
    local key=$1 script=$2 table=$3 seed=$4 out rows tps done_ m0
    reset_state
    log "== $key: pgbench -n -M prepared -c 8 -j 2 -T $SECS -f $(basename "$script")"
    m0=$(cpu_mark)
    out=$("$PGBIN/pgbench" -n -M prepared -c 8 -j 2 -T "$SECS" -f "$script" bench 2>&1) ||
        { echo "$out" >&2; die "pgbench failed for $key"; }
    sleep 0.2   # let the postmaster reap the backends
    OTHER[$key]=$(other_cpu "$m0" "$(cpu_mark)")
    log "$out"
    grep -q 'aborted' <<<"$out" && { echo "$out" >&2; die "pgbench clients aborted in $key"; }
    tps=$(awk '/^tps = /{printf "%.1f", $3; exit}' <<<"$out")
    done_=$(awk -F': ' '/number of transactions actually processed/{print $2; exit}' <<<"$out")
    rows=$(q "SELECT count(*) - $seed FROM $table")
    log "rows written: $rows (transactions: $done_); CPU used by other processes: ${OTHER[$key]}% of the machine"
    [[ -n $tps ]] || die "no tps in pgbench output for $key"
    ((rows == done_)) || die "$key: $rows rows written for $done_ transactions"
    R[$key]=$tps
}

# scan KEY SQL EXPECTED_ROWS [timed] -> R[KEY] += " events/s"
run_scan() {
    local key=$1 sql=$2 expect=$3 timed=${4:-} out m0 rows secs other
    m0=$(cpu_mark)
    out=$("$DRIVER" scan "$sql" "$PAGE") || die "$key: the scan failed (see above)"
    sleep 0.2   # let the postmaster reap the backend, so that its CPU is counted as ours
    other=$(other_cpu "$m0" "$(cpu_mark)")
    [[ -z $timed ]] || max_other "$key" "$other"
    rows=$(kv "$out" rows)
    secs=$(kv "$out" seconds)
    ((rows == expect)) || die "$key: $rows events read, expected $expect ($out)"
    log "$key${timed:+ (timed)}: $out -> $(div "$rows" "$secs" 0) events/s; others used $other% CPU"
    [[ -z $timed ]] || R[$key]+=" $(div "$rows" "$secs" 1)"
}

# Every stream of the category once, with its count and its last position.
check_read_model() {   # TABLE KEY
    local bad
    bad=$(q "SELECT count(*) FROM (
               SELECT stream, count(*) AS n, max(global_position) AS last FROM es.events
                WHERE split_part(stream, '-', 1) = 'cat1' GROUP BY stream) e
               FULL JOIN $1 r USING (stream)
              WHERE r.events IS DISTINCT FROM e.n OR r.last_position IS DISTINCT FROM e.last")
    [[ $bad == 0 ]] || stalled "$2" "read model $1 differs from the events of cat1 in $bad streams"
}

pcts() {   # numbers on stdin (ms) -> "count p50 p99 max" (nearest rank)
    sort -g | awk '{ v[++n] = $1 }
        END {
            if (n == 0) { print "0 - - -"; exit }
            i50 = int(0.50 * n); if (i50 < 0.50 * n) i50++
            i99 = int(0.99 * n); if (i99 < 0.99 * n) i99++
            printf "%d %.3f %.3f %.3f\n", n, v[i50], v[i99], v[n]
        }'
}
field() { awk -v i="$2" '{print $i}' <<<"$1"; }

# --- header ----------------------------------------------------------------------
{
    echo "event_streaming ordering benchmark (read_all, projections), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "server: $("$PGBIN/postgres" --version)"
    echo "extension: $EXTVER, $PKGLIB/event_streaming.so md5 $SO_MD5"
    echo "BENCH_SECONDS=$SECS BENCH_EVENTS=$EVENTS BENCH_PAGE=$PAGE BENCH_SCAN_REPEAT=$REPEAT" \
        "BENCH_LAT_RATE=$LAT_RATE BENCH_LAT_SECONDS=$LAT_SECS BENCH_STALL_SECONDS=$STALL"
    echo "settings (from pg_settings):"
    q "SELECT '  ' || name || ' = ' || current_setting(name)
         FROM pg_settings
        WHERE name IN ($SETTING_NAMES) OR name LIKE 'event_streaming.%'
        ORDER BY name"
    echo "es.events indexes ($N_INDEXES): $INDEX_LIST"
    echo "baseline bench_raw: LIKE es.events INCLUDING ALL, $N_INDEXES indexes, identical definitions"
    echo
} >"$RESULT"
cat "$RESULT"
echo "running: 2 x ${SECS}s of appends, a load of $EVENTS events, $((2 * (REPEAT + 1))) + $((2 * (REPEAT + 1))) scans," \
    "3 projections of $CAT_EVENTS events, ${LAT_SECS}s of latency samples ..."

# --- 1. append at 8 clients ---------------------------------------------------------
echo "1. append, 8 clients:"
run_append insert_8c "$WORK/insert.sql" bench_raw "$STREAMS"
say "INSERT into bench_raw: ${R[insert_8c]} tps (others used ${OTHER[insert_8c]}% CPU)"
run_append append_8c "$WORK/append.sql" es.events "$((STREAMS + BATCH_STREAMS))"
say "es.append:             ${R[append_8c]} tps (others used ${OTHER[append_8c]}% CPU)"

# --- 2. load, then scans --------------------------------------------------------------
echo "2. scans:"
t0=$(date +%s%N)
# TRUNCATE only: the positions go on from where the append test left them.
PGOPTIONS="-c synchronous_commit=off -c client_min_messages=warning" psql_ -d bench >/dev/null <<SQL
SET session_replication_role = replica;  -- past es.events_guard
TRUNCATE es.events, es.stream_catalog, es.queues, es.dead_letter_messages, bench_raw, bench_raw2 CASCADE;
DO \$\$
DECLARE
    arr jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_object('type', 'Deposited', 'data', '$DATA_JSON'::jsonb))
      INTO arr FROM generate_series(1, $LOAD_BATCH);
    FOR i IN 0..$((EVENTS / LOAD_BATCH - 1)) LOOP
        PERFORM es.append_batch('cat' || (i % $CATS + 1) || '-' || ((i / $CATS) % $CAT_STREAMS + 1), arr);
        IF i % 50 = 49 THEN
            COMMIT;
        END IF;
    END LOOP;
END
\$\$;
SQL
LOAD_SECS=$(since "$t0")
t0=$(date +%s%N)
psql_ -d bench -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
log "-- load: $EVENTS events via es.append_batch x $LOAD_BATCH in $LOAD_SECS s; VACUUM ANALYZE + CHECKPOINT $(since "$t0") s"
[[ $(q "SELECT count(*) FROM es.events") == "$EVENTS" ]] || die "load: wrong number of events"
[[ $(q "SELECT count(*) FROM es.events WHERE split_part(stream, '-', 1) = 'cat1'") == "$CAT_EVENTS" ]] ||
    die "load: wrong number of events in cat1"
SETTLED=$(q "SELECT es.settled_position()")
MAXPOS=$(q "SELECT max(global_position) FROM es.events")
log "-- es.settled_position() = $SETTLED, max(global_position) = $MAXPOS"
((SETTLED >= MAXPOS)) ||
    stalled scan "es.settled_position() = $SETTLED is below the highest committed position $MAXPOS with nothing in flight"
say "loaded $EVENTS events (cat1..cat$CATS x $CAT_STREAMS streams) in $LOAD_SECS s" \
    "($(div "$EVENTS" "$LOAD_SECS" 0) events/s, append_batch x $LOAD_BATCH, synchronous_commit=off)"

SQL_RAW="SELECT $COLS FROM es.events WHERE global_position > \$1 ORDER BY global_position LIMIT \$2"
SQL_READ="SELECT $COLS FROM es.read_all(\$1, \$2)"
SQL_RAW_CAT="SELECT $COLS FROM es.events WHERE split_part(stream, '-', 1) = 'cat1' AND global_position > \$1
       ORDER BY global_position LIMIT \$2"
SQL_READ_CAT="SELECT $COLS FROM es.read_all(\$1, \$2, ARRAY['cat1'])"
log "== scans, $PAGE per page, one client (libpq driver, prepared, text results)"
log "   baseline: $SQL_RAW"
log "   product:  $SQL_READ"
log "   baseline, category: $SQL_RAW_CAT"
log "   product, category:  $SQL_READ_CAT"
# warm-up: one untimed pass each
run_scan scan_raw "$SQL_RAW" "$EVENTS"
run_scan scan_read "$SQL_READ" "$EVENTS"
run_scan scan_raw_cat "$SQL_RAW_CAT" "$CAT_EVENTS"
run_scan scan_read_cat "$SQL_READ_CAT" "$CAT_EVENTS"
for ((k = 0; k < REPEAT; k++)); do
    run_scan scan_raw "$SQL_RAW" "$EVENTS" timed
    run_scan scan_read "$SQL_READ" "$EVENTS" timed
    run_scan scan_raw_cat "$SQL_RAW_CAT" "$CAT_EVENTS" timed
    run_scan scan_read_cat "$SQL_READ_CAT" "$CAT_EVENTS" timed
done
for k in scan_raw scan_read scan_raw_cat scan_read_cat; do
    log "$k events/s:${R[$k]}"
    R[${k}_med]=$(median <<<"${R[$k]}")
done
say "all events:     SELECT ... LIMIT $PAGE ${R[scan_raw_med]} events/s, es.read_all ${R[scan_read_med]} events/s" \
    "(medians of $REPEAT; others used up to ${OTHER[scan_raw]}/${OTHER[scan_read]}% CPU)"
say "category cat1:  SELECT ... LIMIT $PAGE ${R[scan_raw_cat_med]} events/s, es.read_all ${R[scan_read_cat_med]} events/s" \
    "(medians of $REPEAT; others used up to ${OTHER[scan_raw_cat]}/${OTHER[scan_read_cat]}% CPU)"

# --- 3. projection throughput ---------------------------------------------------------
echo "3. projections over cat1 ($CAT_EVENTS events):"
[[ $(q "SELECT current_setting('event_streaming.projections')") == off ]] ||
    die "event_streaming.projections should be off for the hand-driven projection"
q "SELECT es.create_projection('bench_hand', 'cat1', 'bench_apply_hand(es.event)'::regprocedure)" >/dev/null
log "== hand: es.create_projection('bench_hand', 'cat1', bench_apply_hand); driver: SELECT es.run_projection('bench_hand', $PAGE) until 0"
m0=$(cpu_mark)
out=$("$DRIVER" until0 "SELECT es.run_projection('bench_hand', $PAGE)") || die "hand: es.run_projection failed"
sleep 0.2
OTHER[proj_hand]=$(other_cpu "$m0" "$(cpu_mark)")
log "hand: $out"
log "hand: $(projection_row bench_hand)"
[[ $(kv "$out" total) == "$CAT_EVENTS" ]] ||
    stalled proj_hand "es.run_projection applied $(kv "$out" total) events in total, expected $CAT_EVENTS ($out)"
[[ $(q "SELECT lag FROM es.projections WHERE name = 'bench_hand'") == 0 ]] ||
    stalled proj_hand "after run_projection returned 0: $(projection_row bench_hand)"
check_read_model bench_rm_hand proj_hand
R[proj_hand]=$(div "$(kv "$out" total)" "$(kv "$out" seconds)" 1)
say "es.run_projection by hand: $(kv "$out" total) events in $(kv "$out" seconds) s = ${R[proj_hand]} events/s," \
    "$(kv "$out" calls) calls (others used ${OTHER[proj_hand]}% CPU)"

SQL_PLAIN="SELECT e.global_position, bench_apply_plain(ROW(e.*)::es.event) FROM es.events e
        WHERE split_part(e.stream, '-', 1) = 'cat1' AND e.global_position > \$1 ORDER BY e.global_position LIMIT \$2"
log "== plain: $SQL_PLAIN"
m0=$(cpu_mark)
out=$("$DRIVER" scan "$SQL_PLAIN" "$PAGE") || die "plain: the handler loop failed"
sleep 0.2
OTHER[proj_plain]=$(other_cpu "$m0" "$(cpu_mark)")
log "plain: $out"
[[ $(kv "$out" rows) == "$CAT_EVENTS" ]] || die "plain: $(kv "$out" rows) events, expected $CAT_EVENTS"
check_read_model bench_rm_plain proj_plain
R[proj_plain]=$(div "$(kv "$out" rows)" "$(kv "$out" seconds)" 1)
say "same handler in a plain keyset loop: ${R[proj_plain]} events/s (others used ${OTHER[proj_plain]}% CPU)"

# The worker: switch its projections on, then create the projection and wait.
q "SELECT es.drop_projection('bench_hand')" >/dev/null
psql_ -d bench >/dev/null -c "ALTER SYSTEM SET event_streaming.projections = on" -c "SELECT pg_reload_conf()"
sleep 2
[[ $(q "SELECT current_setting('event_streaming.projections')") == on ]] || die "event_streaming.projections did not switch on"
log "== worker: es.create_projection('bench_worker', 'cat1', bench_apply_worker); poll es.projections every 10 ms"
m0=$(cpu_mark)
out=$(psql_ -d bench 2>&1 <<SQL
DO \$\$
DECLARE
    t0 timestamptz;
    tf timestamptz;
    tp timestamptz;
    af bigint;
    last_applied bigint := -1;
    p record;
    tl text := '';
    nexttl float8 := 0.5;
    el float8;
    st text := 'done';
BEGIN
    PERFORM es.create_projection('bench_worker', 'cat1', 'bench_apply_worker(es.event)'::regprocedure);
    COMMIT;
    t0 := clock_timestamp();
    tp := t0;
    LOOP
        PERFORM pg_sleep(0.01);
        SELECT * INTO p FROM es.projections WHERE name = 'bench_worker';
        el := extract(epoch FROM clock_timestamp() - t0);
        IF el >= nexttl THEN
            tl := tl || format(' %s:%s', round(el::numeric, 1), p.events_applied);
            nexttl := nexttl + 0.5;
        END IF;
        IF p.status IS DISTINCT FROM 'running' THEN
            st := 'failed';
            EXIT;
        END IF;
        IF p.events_applied > last_applied THEN
            last_applied := p.events_applied;
            tp := clock_timestamp();
        END IF;
        IF tf IS NULL AND p.events_applied > 0 THEN
            tf := clock_timestamp();
            af := p.events_applied;
        END IF;
        EXIT WHEN p.events_applied >= $CAT_EVENTS AND p.lag = 0;
        IF clock_timestamp() - tp > interval '$STALL seconds' THEN
            st := 'stalled';
            EXIT;
        END IF;
        COMMIT;
    END LOOP;
    RAISE NOTICE 'bench-result status=% t0=% tf=% af=% t1=% applied=% position=% head=% lag=%',
        st, extract(epoch FROM t0), coalesce(extract(epoch FROM tf)::text, '-'), coalesce(af, 0),
        extract(epoch FROM clock_timestamp()), p.events_applied, p.position, p.head_position, p.lag;
    RAISE NOTICE 'bench-timeline%', tl;
END
\$\$;
SQL
) || { echo "$out" >&2; die "worker: the polling DO block failed"; }
sleep 0.2
OTHER[proj_worker]=$(other_cpu "$m0" "$(cpu_mark)")
res=$(grep -o 'bench-result .*' <<<"$out" | tail -1)
log "worker: $res"
log "worker: applied by elapsed second:$(grep -o 'bench-timeline.*' <<<"$out" | sed 's/bench-timeline//')"
log "worker: $(projection_row bench_worker)"
if [[ $(kv "$res" status) == "done" ]]; then
    check_read_model bench_rm_worker proj_worker
    R[proj_worker_secs]=$(awk -v a="$(kv "$res" t0)" -v b="$(kv "$res" t1)" 'BEGIN{printf "%.3f", b - a}')
    R[proj_worker_start]=$(awk -v a="$(kv "$res" t0)" -v b="$(kv "$res" tf)" 'BEGIN{printf "%.3f", b - a}')
    R[proj_worker]=$(div "$CAT_EVENTS" "${R[proj_worker_secs]}" 1)
    R[proj_worker_steady]=$(awk -v n="$CAT_EVENTS" -v af="$(kv "$res" af)" -v a="$(kv "$res" tf)" -v b="$(kv "$res" t1)" \
        'BEGIN{printf "%.1f", (b > a) ? (n - af) / (b - a) : 0}')
    say "worker: caught up with $CAT_EVENTS events in ${R[proj_worker_secs]} s from the creation = ${R[proj_worker]} events/s;" \
        "first event applied after ${R[proj_worker_start]} s, ${R[proj_worker_steady]} events/s from then on" \
        "(others used ${OTHER[proj_worker]}% CPU)"
else
    for k in proj_worker proj_worker_secs proj_worker_start proj_worker_steady; do R[$k]=-; done
    stalled proj_worker "projection bench_worker $(kv "$res" status) after $(kv "$res" applied) of $CAT_EVENTS events:" \
        "$(projection_row bench_worker)"
fi
q "SELECT es.drop_projection('bench_worker')" >/dev/null

# --- 4. latency commit -> projection applied ------------------------------------------
echo "4. latency, append commit -> projection applied ($LAT_RATE/s for ${LAT_SECS}s):"
q "SELECT es.create_projection('bench_lat', 'lat', 'bench_apply_lat(es.event)'::regprocedure)" >/dev/null
# warm-up: one event, until the worker has applied it
warm=$(q "SELECT (es.append_event('lat-0', 'Ping', '{}')).global_position")
for ((i = 0; i < STALL * 10; i++)); do
    [[ $(q "SELECT count(*) FROM bench_lat_rm WHERE global_position = $warm") == 1 ]] && break
    sleep 0.1
done
LAT_RAW=$OUT/latency-raw.txt
if ((i == STALL * 10)); then
    for k in lat_p50 lat_p99 lat_max lat_srv_p50 lat_srv_p99 lat_rate; do R[$k]=-; done
    stalled latency "the warm-up event (position $warm) was not applied within $STALL s: $(projection_row bench_lat)"
else
    log "-- latency warm-up: position $warm applied after $(div "$i" 10 1) s (polled every 0.1 s)"
    log "== latency: driver latency, $LAT_SAMPLES appends at $LAT_RATE/s, one at a time"
    m0=$(cpu_mark)
    rc=0
    out=$("$DRIVER" latency "SELECT (es.append_event(\$1, 'Ping', '$DATA_JSON'::jsonb)).global_position" \
        "$LAT_SAMPLES" "$LAT_RATE" "$STALL" "$LAT_RAW") || rc=$?
    sleep 0.2
    OTHER[latency]=$(other_cpu "$m0" "$(cpu_mark)")
    log "latency: $out (exit $rc)"
    if ((rc != 0)); then
        for k in lat_p50 lat_p99 lat_max lat_srv_p50 lat_srv_p99 lat_rate; do R[$k]=-; done
        stalled latency "the driver stopped (exit $rc; $(grep -c -v '^#' "$LAT_RAW") samples done):" \
            "$(projection_row bench_lat); settled_position $(q "SELECT es.settled_position()")"
    else
        c=$(awk '!/^#/{printf "%.3f\n", ($5 - $4) / 1000}' "$LAT_RAW" | pcts)
        R[lat_p50]=$(field "$c" 2)
        R[lat_p99]=$(field "$c" 3)
        R[lat_max]=$(field "$c" 4)
        R[lat_rate]=$(div "$LAT_SAMPLES" "$(kv "$out" seconds)" 1)
        R[lat_late]=$(kv "$out" late)
        rtt=$(awk '!/^#/{printf "%.3f\n", ($4 - $3) / 1000}' "$LAT_RAW" | pcts)
        psql_ -d bench -c "\\copy bench_lat_client FROM '$LAT_RAW' (DELIMITER ' ')" >/dev/null
        s=$(q "SELECT count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY d), percentile_disc(0.99) WITHIN GROUP (ORDER BY d),
                      max(d), count(*) FILTER (WHERE d < 0)
                 FROM (SELECT (extract(epoch FROM r.applied_at) * 1e6 - c.wall1) / 1000 AS d
                         FROM bench_lat_client c JOIN bench_lat_rm r USING (global_position)) x" | tr '|' ' ')
        ((LAT_SAMPLES == $(field "$s" 1))) || stalled latency "$(field "$s" 1) of $LAT_SAMPLES samples found in the read model"
        R[lat_srv_p50]=$(div "$(field "$s" 2)" 1 3)
        R[lat_srv_p99]=$(div "$(field "$s" 3)" 1 3)
        log "latency: commit ack -> notification (ms): count/p50/p99/max $c"
        log "latency: append round trip (ms): count/p50/p99/max $rtt"
        log "latency: commit ack -> handler clock_timestamp() (ms): count/p50/p99/max/negative $s"
        say "commit -> applied and visible: p50 ${R[lat_p50]} ms, p99 ${R[lat_p99]} ms, max ${R[lat_max]} ms" \
            "($LAT_SAMPLES samples at ${R[lat_rate]}/s, ${R[lat_late]} sent late);" \
            "commit -> handler ran: p50 ${R[lat_srv_p50]} ms, p99 ${R[lat_srv_p99]} ms (others used ${OTHER[latency]}% CPU)"
    fi
fi
log "latency: $(projection_row bench_lat)"

# --- server log ------------------------------------------------------------------
# (the worker's warning that database bench does not exist is expected: the
# server starts before the script creates it)
ERRS=$(grep -E 'ERROR|WARNING|FATAL|PANIC|terminated by signal' "$LOG" |
    grep -v 'database "bench" named in event_streaming.databases does not exist' || true)
if [[ -n $ERRS ]]; then
    log "== server log: ERROR/WARNING/FATAL lines"
    log "$ERRS"
fi

# --- report --------------------------------------------------------------------------------
row() { printf '%-50s %14s %14s %7s  %s\n' "$@"; }
{
    echo
    row "workload" "baseline" "product" "ratio" "target"
    row "append, 8 clients (appends/s)" "${R[insert_8c]}" "${R[append_8c]}" \
        "$(div "${R[append_8c]}" "${R[insert_8c]}")" ">= 0.9"
    row "scan all, $PAGE/page, 1 client (events/s)" "${R[scan_raw_med]}" "${R[scan_read_med]}" \
        "$(div "${R[scan_read_med]}" "${R[scan_raw_med]}")" ">= 0.9"
    row "scan category cat1 (1/$CATS) (events/s)" "${R[scan_raw_cat_med]}" "${R[scan_read_cat_med]}" \
        "$(div "${R[scan_read_cat_med]}" "${R[scan_raw_cat_med]}")" ""
    row "projection by hand, run_projection (events/s)" "${R[proj_plain]}" "${R[proj_hand]}" \
        "$(div "${R[proj_hand]}" "${R[proj_plain]}")" ""
    row "projection by the worker, catch-up (events/s)" "${R[proj_plain]}" "${R[proj_worker]}" \
        "$(div "${R[proj_worker]}" "${R[proj_plain]}")" ""
    row "commit -> projection applied, p50 / p99 (ms)" "" "${R[lat_p50]} / ${R[lat_p99]}" "" ""
    echo "baselines: INSERT into bench_raw (LIKE es.events INCLUDING ALL); keyset SELECT on es.events;"
    echo "  projections: the same handler in a plain keyset loop of $PAGE-event transactions"
    echo
    echo "append_8c_insert_tps=${R[insert_8c]}"
    echo "append_8c_tps=${R[append_8c]}"
    echo "append_8c_ratio=$(div "${R[append_8c]}" "${R[insert_8c]}")"
    echo "scan_raw_events_per_s=${R[scan_raw_med]}"
    echo "read_all_events_per_s=${R[scan_read_med]}"
    echo "read_all_ratio=$(div "${R[scan_read_med]}" "${R[scan_raw_med]}")"
    echo "scan_raw_cat_events_per_s=${R[scan_raw_cat_med]}"
    echo "read_all_cat_events_per_s=${R[scan_read_cat_med]}"
    echo "read_all_cat_ratio=$(div "${R[scan_read_cat_med]}" "${R[scan_raw_cat_med]}")"
    echo "projection_plain_loop_events_per_s=${R[proj_plain]}"
    echo "projection_hand_events_per_s=${R[proj_hand]}"
    echo "projection_worker_events_per_s=${R[proj_worker]}"
    echo "projection_worker_catchup_seconds=${R[proj_worker_secs]}"
    echo "projection_worker_first_event_seconds=${R[proj_worker_start]}"
    echo "projection_worker_steady_events_per_s=${R[proj_worker_steady]}"
    echo "latency_commit_to_applied_p50_ms=${R[lat_p50]}"
    echo "latency_commit_to_applied_p99_ms=${R[lat_p99]}"
    echo "latency_commit_to_applied_max_ms=${R[lat_max]}"
    echo "latency_commit_to_handler_p50_ms=${R[lat_srv_p50]}"
    echo "latency_commit_to_handler_p99_ms=${R[lat_srv_p99]}"
    echo "targets: append_8c_ratio >= 0.9, read_all_ratio >= 0.9"
    for k in "${!NOTE[@]}"; do
        [[ -z ${NOTE[$k]} ]] || echo "PROBLEM: $k: ${NOTE[$k]}"
    done
    if [[ -n $ERRS ]]; then
        echo "server log: $(wc -l <<<"$ERRS") ERROR/WARNING/FATAL lines (in $RESULT)"
    fi
    report_other_cpu
} | tee -a "$RESULT"
note_so_changed
echo "raw figures: $RESULT; latency samples: $LAT_RAW"
((FAILED == 0)) || die "problems found (see PROBLEM above); cluster kept in $DATA"
