/*
 * retention.c
 *	  The sweeps: the redelivery pass over queues and the retention passes
 *	  over streams, queues and dead-letter queues.  es.sweep() and friends
 *	  run them by hand; the background worker (worker.c) runs them in steps,
 *	  each its own short transaction.
 *
 * A sweep is a cursor over targets (a queue, a stream), phase by phase.  A
 * step changes at most a batch of rows and looks at a bounded number of
 * targets, then returns; the cursor remembers where it stopped (a target
 * with rows left, or the last name done), so the next step, in the same
 * transaction or the next one, goes on from there.
 *
 * Stream retention removes a prefix of the stream: the events below a cut
 * offset, never a hole.  The cut is the largest of what max_count allows
 * (the newest max_count events stay) and what max_age allows (the events
 * before the first one not older than max_age).  The same statement that
 * deletes them raises es.stream_catalog.truncated_before to the cut, so an
 * append, which reads both under one snapshot, always numbers on from the
 * true last offset, even when no event is left.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "event_streaming.h"

/* Most targets one step looks at, so a step stays short with many streams. */
#define TARGETS_PER_STEP 1000

/* Set while a retention pass deletes events: the one change es.events allows. */
static bool removing_events = false;

static EsPlan next_queue_plan = {
	.sql = "SELECT queue, queue_id, max_age, max_count, dead_letter_max_age,"
	"       dead_letter_max_count"
	"  FROM es.queues WHERE queue OPERATOR(pg_catalog.>) $1"
	" ORDER BY queue LIMIT 1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/* Streams with settings of their own; unset ones come from the category. */
static EsPlan next_stream_plan = {
	.sql = "SELECT s.name, COALESCE(s.max_age, g.max_age),"
	"       COALESCE(s.max_count, g.max_count)"
	"  FROM es.stream_settings s"
	"  JOIN es.stream_catalog c ON c.stream OPERATOR(pg_catalog.=) s.name"
	"  LEFT JOIN es.stream_settings g"
	"    ON g.scope OPERATOR(pg_catalog.=) 'category'"
	"   AND g.name OPERATOR(pg_catalog.=) pg_catalog.split_part(s.name, '-', 1)"
	" WHERE s.scope OPERATOR(pg_catalog.=) 'stream'"
	"   AND c.kind OPERATOR(pg_catalog.=) 'persistent'"
	"   AND s.name OPERATOR(pg_catalog.>) $1"
	" ORDER BY s.name LIMIT 1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/* Categories with settings, in name order. */
static EsPlan next_category_plan = {
	.sql = "SELECT name, max_age, max_count FROM es.stream_settings"
	" WHERE scope OPERATOR(pg_catalog.=) 'category' AND name OPERATOR(pg_catalog.>) $1"
	" ORDER BY name LIMIT 1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/* The next stream of a category that has no settings of its own. */
static EsPlan next_category_stream_plan = {
	.sql = "SELECT c.stream FROM es.stream_catalog c"
	" WHERE pg_catalog.split_part(c.stream, '-', 1) OPERATOR(pg_catalog.=) $1"
	"   AND c.stream OPERATOR(pg_catalog.>) $2"
	"   AND c.kind OPERATOR(pg_catalog.=) 'persistent'"
	"   AND NOT EXISTS (SELECT FROM es.stream_settings s"
	"                    WHERE s.scope OPERATOR(pg_catalog.=) 'stream'"
	"                      AND s.name OPERATOR(pg_catalog.=) c.stream)"
	" ORDER BY pg_catalog.split_part(c.stream, '-', 1), c.stream LIMIT 1",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID}
};

static EsPlan stream_bounds_plan = {
	.sql = "SELECT c.truncated_before,"
	"       (SELECT e.stream_offset FROM es.events e"
	"         WHERE e.stream OPERATOR(pg_catalog.=) $1"
	"         ORDER BY e.stream_offset DESC LIMIT 1)"
	"  FROM es.stream_catalog c WHERE c.stream OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/*
 * The end of the prefix of the stream, among its $4 events from offset $2,
 * that is older than $3: the first offset not older, or one past the last
 * looked at.
 */
static EsPlan age_cut_plan = {
	.sql = "SELECT COALESCE("
	"         pg_catalog.min(x.stream_offset) FILTER (WHERE x.created_at OPERATOR(pg_catalog.>=) $3),"
	"         pg_catalog.max(x.stream_offset) OPERATOR(pg_catalog.+) 1)"
	"  FROM (SELECT e.stream_offset, e.created_at FROM es.events e"
	"         WHERE e.stream OPERATOR(pg_catalog.=) $1"
	"           AND e.stream_offset OPERATOR(pg_catalog.>=) $2"
	"         ORDER BY e.stream_offset LIMIT $4) x",
	.nargs = 4,
	.argtypes = {TEXTOID, INT8OID, TIMESTAMPTZOID, INT8OID}
};

static EsPlan truncate_plan = {
	.sql = "WITH d AS (DELETE FROM es.events"
	"            WHERE stream OPERATOR(pg_catalog.=) $1"
	"              AND stream_offset OPERATOR(pg_catalog.>=) $2"
	"              AND stream_offset OPERATOR(pg_catalog.<) $3"
	"            RETURNING 1),"
	"     u AS (UPDATE es.stream_catalog SET truncated_before = $3"
	"            WHERE stream OPERATOR(pg_catalog.=) $1"
	"              AND truncated_before OPERATOR(pg_catalog.<) $3)"
	" SELECT pg_catalog.count(*) FROM d",
	.nargs = 3,
	.argtypes = {TEXTOID, INT8OID, INT8OID}
};

/*
 * Waiting messages enqueued before $2, first in line first.  Leased
 * messages stay until their lease ends: their consumer may still ack.
 */
static EsPlan expire_messages_plan = {
	.sql = "DELETE FROM es.messages WHERE message_id OPERATOR(pg_catalog.=) ANY (ARRAY("
	"  SELECT m.message_id FROM es.messages m"
	"   WHERE m.queue_id OPERATOR(pg_catalog.=) $1"
	"     AND m.enqueued_at OPERATOR(pg_catalog.<) $2"
	"     AND (m.leased_until IS NULL OR m.leased_until OPERATOR(pg_catalog.<=) $3)"
	"   ORDER BY m.available_at, m.message_id LIMIT $4"
	"   FOR UPDATE SKIP LOCKED))",
	.nargs = 4,
	.argtypes = {INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID}
};

static EsPlan queue_depth_plan = {
	.sql = "SELECT pg_catalog.count(*) FROM es.messages"
	" WHERE queue_id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT4OID}
};

/* The first $2 messages in line that are not leased. */
static EsPlan trim_messages_plan = {
	.sql = "DELETE FROM es.messages WHERE message_id OPERATOR(pg_catalog.=) ANY (ARRAY("
	"  SELECT m.message_id FROM es.messages m"
	"   WHERE m.queue_id OPERATOR(pg_catalog.=) $1"
	"     AND (m.leased_until IS NULL OR m.leased_until OPERATOR(pg_catalog.<=) $3)"
	"   ORDER BY m.available_at, m.message_id LIMIT $2"
	"   FOR UPDATE SKIP LOCKED))",
	.nargs = 3,
	.argtypes = {INT4OID, INT8OID, TIMESTAMPTZOID}
};

static EsPlan expire_dead_plan = {
	.sql = "DELETE FROM es.dead_letter_messages"
	" WHERE queue_id OPERATOR(pg_catalog.=) $1"
	"   AND message_id OPERATOR(pg_catalog.=) ANY (ARRAY("
	"  SELECT d.message_id FROM es.dead_letter_messages d"
	"   WHERE d.queue_id OPERATOR(pg_catalog.=) $1"
	"     AND d.dead_lettered_at OPERATOR(pg_catalog.<) $2"
	"   ORDER BY d.dead_lettered_at, d.message_id LIMIT $3))",
	.nargs = 3,
	.argtypes = {INT4OID, TIMESTAMPTZOID, INT8OID}
};

/* All but the newest $2 dead letters, at most $3 of them. */
static EsPlan trim_dead_plan = {
	.sql = "DELETE FROM es.dead_letter_messages"
	" WHERE queue_id OPERATOR(pg_catalog.=) $1"
	"   AND message_id OPERATOR(pg_catalog.=) ANY (ARRAY("
	"  SELECT d.message_id FROM es.dead_letter_messages d"
	"   WHERE d.queue_id OPERATOR(pg_catalog.=) $1"
	"   ORDER BY d.dead_lettered_at DESC, d.message_id DESC OFFSET $2 LIMIT $3))",
	.nargs = 3,
	.argtypes = {INT4OID, INT8OID, INT8OID}
};

/* What the passes report, by phase. */
static const char *const phase_pass[] = {
	[ES_PHASE_REDELIVERY] = "redelivery",
	[ES_PHASE_STREAMS] = "stream_retention",
	[ES_PHASE_CATEGORIES] = "stream_retention",
	[ES_PHASE_QUEUES] = "queue_retention",
	[ES_PHASE_DEAD_LETTERS] = "dead_letter_retention",
};

static Datum
Value(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/* An interval column in microseconds, or -1 when NULL. */
static int64
IntervalValue(int col)
{
	bool		isnull;
	Datum		d = Value(col, &isnull);

	return isnull ? -1 : EsIntervalMicroseconds(DatumGetIntervalP(d));
}

static int64
Int64Value(int col)
{
	bool		isnull;
	Datum		d = Value(col, &isnull);

	return isnull ? -1 : DatumGetInt64(d);
}

/* Remember a name in the sweep's context, which outlives the step. */
static void
SetName(EsSweep *s, char **field, const char *name)
{
	char	   *old = *field;

	*field = MemoryContextStrdup(s->cxt, name);
	if (old != NULL)
		pfree(old);
}

/*
 * Find the sweep's next target in its phase, after the last one.  False
 * when the phase has none left.
 */
static bool
NextTarget(EsSweep *s)
{
	EsSweepTarget *t = &s->target;
	Datum		values[2];
	bool		isnull;

	switch (s->phase)
	{
		case ES_PHASE_REDELIVERY:
		case ES_PHASE_QUEUES:
		case ES_PHASE_DEAD_LETTERS:
			values[0] = CStringGetTextDatum(s->after);
			EsExecute(&next_queue_plan, values, NULL, SPI_OK_SELECT);
			if (SPI_processed == 0)
				return false;
			SetName(s, &s->after, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			t->queue_id = DatumGetInt32(Value(2, &isnull));
			t->max_age = IntervalValue(s->phase == ES_PHASE_DEAD_LETTERS ? 5 : 3);
			t->max_count = Int64Value(s->phase == ES_PHASE_DEAD_LETTERS ? 6 : 4);
			return true;

		case ES_PHASE_STREAMS:
			values[0] = CStringGetTextDatum(s->after);
			EsExecute(&next_stream_plan, values, NULL, SPI_OK_SELECT);
			if (SPI_processed == 0)
				return false;
			SetName(s, &s->after, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			t->max_age = IntervalValue(2);
			t->max_count = Int64Value(3);
			return true;

		case ES_PHASE_CATEGORIES:
			for (;;)
			{
				if (s->category == NULL)
				{
					values[0] = CStringGetTextDatum(s->after_category);
					EsExecute(&next_category_plan, values, NULL, SPI_OK_SELECT);
					if (SPI_processed == 0)
						return false;
					SetName(s, &s->category, SPI_getvalue(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1));
					SetName(s, &s->after_category, s->category);
					s->category_max_age = IntervalValue(2);
					s->category_max_count = Int64Value(3);
					SetName(s, &s->after, "");
				}
				values[0] = CStringGetTextDatum(s->category);
				values[1] = CStringGetTextDatum(s->after);
				EsExecute(&next_category_stream_plan, values, NULL, SPI_OK_SELECT);
				if (SPI_processed > 0)
					break;
				pfree(s->category);
				s->category = NULL;
			}
			SetName(s, &s->after, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			t->max_age = s->category_max_age;
			t->max_count = s->category_max_count;
			return true;
	}
	elog(ERROR, "unexpected sweep phase %d", s->phase);
	return false;
}

/*
 * Remove at most budget of the oldest events of stream s->after that its
 * max_age and max_count let go.  Returns how many went.
 */
static int64
SweepStream(EsSweep *s, int64 budget)
{
	EsSweepTarget *t = &s->target;
	Datum		values[4];
	bool		isnull;
	int64		first;
	int64		last;
	int64		cut;

	if (t->max_age < 0 && t->max_count < 0)
		return 0;
	values[0] = CStringGetTextDatum(s->after);
	EsExecute(&stream_bounds_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return 0;
	first = DatumGetInt64(Value(1, &isnull));
	last = DatumGetInt64(Value(2, &isnull));
	if (isnull)
		return 0;				/* no event left */

	cut = first;
	if (t->max_count > 0 && last - t->max_count + 1 > cut)
		cut = last - t->max_count + 1;
	if (t->max_age >= 0)
	{
		values[1] = Int64GetDatum(first);
		values[2] = TimestampTzGetDatum(s->now - t->max_age);
		values[3] = Int64GetDatum(budget);
		EsExecute(&age_cut_plan, values, NULL, SPI_OK_SELECT);
		cut = Max(cut, DatumGetInt64(Value(1, &isnull)));
	}
	cut = Min(cut, first + budget);
	if (cut <= first)
		return 0;

	values[1] = Int64GetDatum(first);
	values[2] = Int64GetDatum(cut);
	removing_events = true;
	PG_TRY();
	{
		EsExecute(&truncate_plan, values, NULL, SPI_OK_SELECT);
	}
	PG_FINALLY();
	{
		removing_events = false;
	}
	PG_END_TRY();
	return DatumGetInt64(Value(1, &isnull));
}

/*
 * es.events_guard(): the statement trigger that keeps es.events append-only.
 * It refuses every UPDATE and TRUNCATE, and every DELETE but retention's,
 * whoever runs it (the table's owner too; a superuser can disable it).
 */
PG_FUNCTION_INFO_V1(es_events_guard);
Datum
es_events_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trig->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trig->tg_event) ||
		TRIGGER_FIRED_BY_INSERT(trig->tg_event) ||
		RelationGetRelid(trig->tg_relation) != EsRelationOid("events"))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es.events_guard must run as a statement trigger on es.events before an UPDATE, DELETE or TRUNCATE")));
	if (!(TRIGGER_FIRED_BY_DELETE(trig->tg_event) && removing_events))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("events are append-only"),
				 errdetail("%s of es.events is refused; only retention removes events.",
						   TRIGGER_FIRED_BY_UPDATE(trig->tg_event) ? "UPDATE" :
						   TRIGGER_FIRED_BY_DELETE(trig->tg_event) ? "DELETE" : "TRUNCATE"),
				 errhint("Set a retention policy with es.configure or es.configure_category.")));
	return PointerGetDatum(NULL);
}

/* Expire the queue's waiting messages past max_age, then past max_count. */
static int64
SweepQueue(EsSweep *s, int64 budget)
{
	EsSweepTarget *t = &s->target;
	Datum		values[4];
	int64		n = 0;

	values[0] = Int32GetDatum(t->queue_id);
	if (t->max_age >= 0)
	{
		values[1] = TimestampTzGetDatum(s->now - t->max_age);
		values[2] = TimestampTzGetDatum(s->now);
		values[3] = Int64GetDatum(budget);
		EsExecute(&expire_messages_plan, values, NULL, SPI_OK_DELETE);
		n += SPI_processed;
	}
	if (t->max_count > 0 && n < budget)
	{
		bool		isnull;
		int64		excess;

		EsExecute(&queue_depth_plan, values, NULL, SPI_OK_SELECT);
		excess = DatumGetInt64(Value(1, &isnull)) - t->max_count;
		if (excess > 0)
		{
			values[1] = Int64GetDatum(Min(excess, budget - n));
			values[2] = TimestampTzGetDatum(s->now);
			EsExecute(&trim_messages_plan, values, NULL, SPI_OK_DELETE);
			n += SPI_processed;
		}
	}
	/* A group's next message may be deliverable now. */
	if (n > 0)
		EsQueueChanged(t->queue_id);
	return n;
}

/* Remove the queue's dead letters past its dead-letter max_age and max_count. */
static int64
SweepDeadLetters(EsSweep *s, int64 budget)
{
	EsSweepTarget *t = &s->target;
	Datum		values[3];
	int64		n = 0;

	values[0] = Int32GetDatum(t->queue_id);
	if (t->max_age >= 0)
	{
		values[1] = TimestampTzGetDatum(s->now - t->max_age);
		values[2] = Int64GetDatum(budget);
		EsExecute(&expire_dead_plan, values, NULL, SPI_OK_DELETE);
		n += SPI_processed;
	}
	if (t->max_count > 0 && n < budget)
	{
		values[1] = Int64GetDatum(t->max_count);
		values[2] = Int64GetDatum(budget - n);
		EsExecute(&trim_dead_plan, values, NULL, SPI_OK_DELETE);
		n += SPI_processed;
	}
	return n;
}

/* Work on the current target; returns the rows changed. */
static int64
SweepTarget(EsSweep *s, int64 budget, bool *done)
{
	int64		n;

	switch (s->phase)
	{
		case ES_PHASE_REDELIVERY:
			{
				EsQueue		q;

				*done = true;	/* one look per queue and sweep */
				if (!EsLookupQueue(s->after, &q, true))
					return 0;
				return EsRedeliverQueue(&q, s->now, budget);
			}
		case ES_PHASE_STREAMS:
		case ES_PHASE_CATEGORIES:
			n = SweepStream(s, budget);
			break;
		case ES_PHASE_QUEUES:
			n = SweepQueue(s, budget);
			break;
		case ES_PHASE_DEAD_LETTERS:
			n = SweepDeadLetters(s, budget);
			break;
		default:
			elog(ERROR, "unexpected sweep phase %d", s->phase);
	}
	*done = n < budget;
	return n;
}

/*
 * Start a sweep over phases first..last, taking now as the present.  Its
 * state lives in cxt.
 */
void
EsSweepBegin(EsSweep *s, EsSweepPhase first, EsSweepPhase last, TimestampTz now,
			 MemoryContext cxt)
{
	memset(s, 0, sizeof(EsSweep));
	s->cxt = cxt;
	s->phase = first;
	s->last_phase = last;
	s->now = now;
	SetName(s, &s->after, "");
	SetName(s, &s->after_category, "");
}

/*
 * One step of the sweep: change at most batch rows (*changed says how
 * many), look at a bounded number of targets.  report(pass, name, rows) is
 * called for every target that changed rows.  Returns false once the sweep
 * is over.  Runs in the caller's transaction.
 */
bool
EsSweepStep(EsSweep *s, int64 batch, int64 *changed, EsSweepReport report, void *arg)
{
	int64		budget = batch;
	int			targets = 0;

	SPI_connect();
	while (s->phase <= s->last_phase && budget > 0 && targets < TARGETS_PER_STEP)
	{
		int64		n;
		bool		done;

		if (!s->in_target)
		{
			if (!NextTarget(s))
			{
				s->phase++;
				SetName(s, &s->after, "");
				continue;
			}
			s->in_target = true;
		}
		n = SweepTarget(s, budget, &done);
		targets++;
		budget -= n;
		if (n > 0)
			report(phase_pass[s->phase], s->after, n, arg);
		if (done)
			s->in_target = false;
	}
	SPI_finish();
	*changed = batch - budget;
	return s->phase <= s->last_phase;
}

/* The result rows of a sweep run by hand, one per pass and target. */
typedef struct SweepResult
{
	ReturnSetInfo *rsinfo;
	MemoryContext cxt;			/* outlives the steps' SPI contexts */
	const char *pass;			/* the pending row, not yet stored */
	char	   *name;
	int64		affected;
} SweepResult;

static void
FlushResult(SweepResult *r)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (r->pass == NULL)
		return;
	values[0] = CStringGetTextDatum(r->pass);
	values[1] = CStringGetTextDatum(r->name);
	values[2] = Int64GetDatum(r->affected);
	tuplestore_putvalues(r->rsinfo->setResult, r->rsinfo->setDesc, values, nulls);
	r->pass = NULL;
}

/* Steps of one target come one after the other: add them up. */
static void
CollectResult(const char *pass, const char *name, int64 rows, void *arg)
{
	SweepResult *r = arg;

	if (r->pass != NULL && r->pass == pass && strcmp(r->name, name) == 0)
	{
		r->affected += rows;
		return;
	}
	FlushResult(r);
	r->pass = pass;
	r->name = MemoryContextStrdup(r->cxt, name);
	r->affected = rows;
}

/* Shared body of es.sweep, es.sweep_redelivery and es.sweep_retention. */
static Datum
RunSweep(FunctionCallInfo fcinfo, EsSweepPhase first, EsSweepPhase last)
{
	SweepResult r = {0};
	EsSweep		s;
	int64		remaining;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("now must not be null")));
	if (!PG_ARGISNULL(1) && PG_GETARG_INT64(1) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be positive"),
				 errdetail("Got %lld. Use NULL for no limit.", (long long) PG_GETARG_INT64(1))));
	remaining = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT64(1);
	if (TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(0)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("now must be finite")));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	r.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	r.cxt = CurrentMemoryContext;
	EsSweepBegin(&s, first, last, PG_GETARG_TIMESTAMPTZ(0), CurrentMemoryContext);
	while (remaining > 0)
	{
		int64		changed;

		if (!EsSweepStep(&s, Min(remaining, es_sweep_batch_size), &changed,
						 CollectResult, &r))
			break;
		remaining -= changed;
	}
	FlushResult(&r);
	return (Datum) 0;
}

/*
 * es.sweep(now, max_rows) → what every pass did, per stream or queue.
 * Runs in the caller's transaction.
 */
PG_FUNCTION_INFO_V1(es_sweep);
Datum
es_sweep(PG_FUNCTION_ARGS)
{
	return RunSweep(fcinfo, ES_PHASE_REDELIVERY, ES_PHASE_DEAD_LETTERS);
}

/* es.sweep_redelivery(now, max_rows): the redelivery pass alone. */
PG_FUNCTION_INFO_V1(es_sweep_redelivery);
Datum
es_sweep_redelivery(PG_FUNCTION_ARGS)
{
	return RunSweep(fcinfo, ES_PHASE_REDELIVERY, ES_PHASE_REDELIVERY);
}

/* es.sweep_retention(now, max_rows): the retention passes alone. */
PG_FUNCTION_INFO_V1(es_sweep_retention);
Datum
es_sweep_retention(PG_FUNCTION_ARGS)
{
	return RunSweep(fcinfo, ES_PHASE_STREAMS, ES_PHASE_DEAD_LETTERS);
}
