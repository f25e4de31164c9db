/*
 * bench/wakeup_latency.c -- wake-up latency of a waiting consumer, measured
 * from the client side.  Built and run by bench/queue.sh.
 *
 *   wakeup_latency MODE SAMPLES GAP_MIN_MS GAP_MAX_MS RAW_FILE
 *
 * One process, two connections (from the usual PG* environment: PGHOST,
 * PGPORT, PGOPTIONS...), one clock (CLOCK_MONOTONIC), no threads: both
 * sockets are polled in one loop, so each event is timed when its bytes
 * arrive, whichever comes first.  For each sample:
 *
 *   1. the consumer starts waiting for a message (MODE product: it sends
 *      es.dequeue('lat', 'c', wait => '5 seconds') and the call blocks in the
 *      server; MODE notify: it is LISTENing and polls its socket);
 *   2. after a random gap of GAP_MIN_MS..GAP_MAX_MS (so the consumer is
 *      really asleep in the server), the producer sends one autocommit
 *      enqueue at t0, and its reply -- sent by the server after COMMIT --
 *      arrives at t1;
 *   3. the consumer has the message in hand at t2 (product: es.dequeue
 *      returned it; notify: the notification arrived and the follow-up
 *      pgmq-style read returned the row);
 *   4. the consumer acks (product: es.ack; notify: DELETE), untimed.
 *
 * Reported: t2 - t1 ("commit -> consumer": from the producer's commit being
 * acknowledged to the producer's client, to the message being in the
 * consumer's client; it can be slightly negative when the consumer's reply
 * overtakes the producer's), t2 - t0 ("send -> consumer": an upper bound that
 * also counts the enqueue's execution and its WAL flush) and t1 - t0 (the
 * enqueue round trip).  Percentiles are nearest-rank.  RAW_FILE gets one line
 * per sample: t0 t1 t2 in microseconds.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define PAYLOAD "{\"order\": 42, \"note\": \"latency probe\"}"

static void
die(const char *what, PGconn *conn)
{
	fprintf(stderr, "wakeup_latency: %s%s%s\n", what, conn ? ": " : "",
			conn ? PQerrorMessage(conn) : "");
	exit(1);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
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
exec_ok(PGconn *c, const char *sql)
{
	PGresult   *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die(sql, c);
	PQclear(r);
}

static void
prepare(PGconn *c, const char *name, const char *sql)
{
	PGresult   *r = PQprepare(c, name, sql, 0, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die(sql, c);
	PQclear(r);
}

/* A query in flight on a connection, collected without blocking. */
typedef struct
{
	PGconn	   *conn;
	int			busy;			/* a query was sent, its result not yet complete */
	PGresult   *res;			/* the (single) result, once complete */
	double		done_at;		/* when the result was complete */
} Pending;

static void
send_prepared(Pending *p, const char *name, int nparams, const char *const *params)
{
	if (!PQsendQueryPrepared(p->conn, name, nparams, params, NULL, NULL, 0))
		die("send failed", p->conn);
	p->busy = 1;
	p->res = NULL;
	p->done_at = 0;
}

/* Read what arrived; mark the query complete when its last result is in. */
static void
collect(Pending *p)
{
	if (!PQconsumeInput(p->conn))
		die("connection lost", p->conn);
	while (p->busy && !PQisBusy(p->conn))
	{
		PGresult   *r = PQgetResult(p->conn);

		if (r == NULL)
		{
			p->busy = 0;
			p->done_at = now_us();
		}
		else if (p->res == NULL)
			p->res = r;
		else
			PQclear(r);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
pct(const double *sorted, int n, double p)
{
	int			k = (int) (p / 100.0 * n + 0.999999);	/* nearest rank */

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

static void
report(const char *key, double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	printf("%s_min_ms=%.3f\n%s_p50_ms=%.3f\n%s_p99_ms=%.3f\n%s_max_ms=%.3f\n",
		   key, v[0] / 1000, key, pct(v, n, 50) / 1000, key, pct(v, n, 99) / 1000,
		   key, v[n - 1] / 1000);
}

int
main(int argc, char **argv)
{
	const char *mode;
	int			n,
				gmin,
				gmax,
				product,
				i,
				errors = 0;
	FILE	   *raw;
	PGconn	   *cons,
			   *prod;
	double	   *commit_lat,
			   *send_lat,
			   *enq_rtt;

	if (argc != 6)
	{
		fprintf(stderr, "usage: wakeup_latency product|notify SAMPLES GAP_MIN_MS GAP_MAX_MS RAW_FILE\n");
		return 2;
	}
	mode = argv[1];
	product = strcmp(mode, "product") == 0;
	if (!product && strcmp(mode, "notify") != 0)
		die("MODE must be product or notify", NULL);
	n = atoi(argv[2]);
	gmin = atoi(argv[3]);
	gmax = atoi(argv[4]);
	if (n < 1 || gmin < 0 || gmax < gmin)
		die("bad SAMPLES or gap", NULL);
	raw = fopen(argv[5], "w");
	if (raw == NULL)
		die("cannot open RAW_FILE", NULL);
	commit_lat = malloc(n * sizeof(double));
	send_lat = malloc(n * sizeof(double));
	enq_rtt = malloc(n * sizeof(double));
	srandom(42);

	cons = connect_db();
	prod = connect_db();
	if (product)
	{
		prepare(cons, "deq",
				"SELECT message_id, receipt FROM es.dequeue('lat', 'c', wait => interval '5 seconds')");
		prepare(cons, "ack", "SELECT es.ack('lat', $1::bigint, $2::uuid)");
		prepare(prod, "enq", "SELECT es.enqueue('lat', '" PAYLOAD "'::jsonb)");
	}
	else
	{
		/* the plain-PostgreSQL way to wake a consumer: LISTEN/NOTIFY, then
		 * the pgmq read (bench/queue.sh: pgmq_read.sql) */
		exec_ok(cons, "LISTEN bench_lat");
		prepare(cons, "deq",
				"WITH cte AS (SELECT msg_id FROM bench_pgmq_lat WHERE vt <= clock_timestamp()"
				" ORDER BY msg_id ASC LIMIT 1 FOR UPDATE SKIP LOCKED)"
				" UPDATE bench_pgmq_lat m SET vt = clock_timestamp() + interval '30 seconds',"
				" read_ct = read_ct + 1 FROM cte WHERE m.msg_id = cte.msg_id"
				" RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.vt, m.message, m.headers");
		prepare(cons, "ack", "DELETE FROM bench_pgmq_lat WHERE msg_id = $1::bigint RETURNING msg_id");
		prepare(prod, "enq",
				"WITH i AS (INSERT INTO bench_pgmq_lat (vt, message) VALUES (clock_timestamp(), '"
				PAYLOAD "'::jsonb) RETURNING msg_id)"
				" SELECT msg_id, pg_notify('bench_lat', msg_id::text) FROM i");
	}
	if (PQsetnonblocking(cons, 1) || PQsetnonblocking(prod, 1))
		die("cannot set non-blocking mode", NULL);

	for (i = 0; i < n; i++)
	{
		Pending		c = {cons, 0, NULL, 0},
					p = {prod, 0, NULL, 0};
		double		t0;
		int			gap_ms;
		struct timespec ts;
		int			notified = 0;
		PGnotify   *nt;
		char		id[32] = "";
		const char *params[2];
		PGresult   *r;

		if (product)
			send_prepared(&c, "deq", 0, NULL);
		gap_ms = gmin + (gmax > gmin ? (int) (random() % (gmax - gmin + 1)) : 0);
		ts.tv_sec = gap_ms / 1000;
		ts.tv_nsec = (long) (gap_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		if (product)
		{
			/* the consumer must still be waiting */
			collect(&c);
			if (!c.busy)
				die("es.dequeue returned before the enqueue (queue not empty?)", NULL);
		}

		t0 = now_us();
		send_prepared(&p, "enq", 0, NULL);
		while (p.busy || c.busy || (!product && !notified))
		{
			struct pollfd fds[2] = {{PQsocket(prod), POLLIN, 0}, {PQsocket(cons), POLLIN, 0}};

			if (PQflush(prod) < 0 || PQflush(cons) < 0)
				die("flush failed", NULL);
			if (poll(fds, 2, 10000) < 0 && errno != EINTR)
				die("poll failed", NULL);
			if (p.busy)
				collect(&p);
			if (c.busy)
				collect(&c);
			else if (!product && !notified)
			{
				if (!PQconsumeInput(cons))
					die("connection lost", cons);
				if ((nt = PQnotifies(cons)) != NULL)
				{
					PQfreemem(nt);
					notified = 1;
					send_prepared(&c, "deq", 0, NULL);
				}
			}
			if (now_us() - t0 > 10e6)
				die("no message within 10 s", NULL);
		}
		if (PQresultStatus(p.res) != PGRES_TUPLES_OK || PQntuples(p.res) != 1)
			die("enqueue failed", prod);
		if (PQresultStatus(c.res) != PGRES_TUPLES_OK)
			die("dequeue failed", cons);
		if (PQntuples(c.res) != 1 ||
			strcmp(PQgetvalue(c.res, 0, 0), PQgetvalue(p.res, 0, 0)) != 0)
		{
			errors++;			/* timed out or got another message */
			fprintf(stderr, "wakeup_latency: sample %d: enqueued %s, consumer got %s\n", i,
					PQgetvalue(p.res, 0, 0), PQntuples(c.res) ? PQgetvalue(c.res, 0, 0) : "nothing");
		}
		commit_lat[i] = c.done_at - p.done_at;
		send_lat[i] = c.done_at - t0;
		enq_rtt[i] = p.done_at - t0;
		fprintf(raw, "%.1f %.1f %.1f\n", t0, p.done_at, c.done_at);

		/* ack, untimed (blocking is fine here) */
		if (PQntuples(c.res) == 1)
		{
			snprintf(id, sizeof(id), "%s", PQgetvalue(c.res, 0, 0));
			params[0] = id;
			params[1] = product ? PQgetvalue(c.res, 0, 1) : NULL;
			if (!PQsendQueryPrepared(cons, "ack", product ? 2 : 1, params, NULL, NULL, 0))
				die("ack send failed", cons);
			while (PQflush(cons) > 0)
				;
			while ((r = PQgetResult(cons)) != NULL)
			{
				if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
					die("ack failed", cons);
				PQclear(r);
			}
		}
		PQclear(p.res);
		PQclear(c.res);
		/* drop notifications of this sample that are still queued */
		PQconsumeInput(cons);
		while ((nt = PQnotifies(cons)) != NULL)
			PQfreemem(nt);
	}
	fclose(raw);

	printf("samples=%d\nerrors=%d\n", n, errors);
	report("commit_to_consumer", commit_lat, n);
	report("send_to_consumer", send_lat, n);
	report("enqueue_roundtrip", enq_rtt, n);
	PQfinish(cons);
	PQfinish(prod);
	return errors ? 1 : 0;
}
