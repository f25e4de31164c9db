/*
 * global.c
 *	  Reads in global order: es.read_all, es.settled_position, and the reader
 *	  that subscriptions and projections share.
 *
 * A read returns events after a position and below the read horizon
 * (shmem.c): every position below it is settled, so a reader that goes on
 * from the last position it received can never pass an event that commits
 * later.  The events are read with the snapshot taken with the horizon.
 *
 * Under REPEATABLE READ or SERIALIZABLE the caller's own snapshot may be
 * older than the horizon's; the read then stops before the first event that
 * snapshot cannot see, so what it returns is both consistent with the rest
 * of the caller's transaction and free of gaps.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "executor/tstoreReceiver.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "utils/snapmgr.h"

#include "event_streaming.h"

/* Filters a read can combine; each one's condition and its parameter. */
#define F_CATEGORIES	0x01	/* $4 text[] */
#define F_CATEGORY		0x02	/* $5 text */
#define F_TYPES			0x04	/* $6 text[] */
#define F_TYPE			0x08	/* $7 text */
#define F_STREAM		0x10	/* $8 text */
#define F_MEMBER		0x20	/* $9 members, $10 member */
#define NUM_READ_PLANS	0x40

static const char *const filter_sql[] = {
	" AND pg_catalog.split_part(stream, '-', 1) OPERATOR(pg_catalog.=) ANY ($4)",
	" AND pg_catalog.split_part(stream, '-', 1) OPERATOR(pg_catalog.=) $5",
	" AND event_type OPERATOR(pg_catalog.=) ANY ($6)",
	" AND event_type OPERATOR(pg_catalog.=) $7",
	" AND stream OPERATOR(pg_catalog.=) $8",
	" AND es.member_of(stream, $9) OPERATOR(pg_catalog.=) $10",
};

/* By filters, and by whether xmin comes too (for the tuple-table reads). */
static EsPlan read_plans[2][NUM_READ_PLANS];

static EsPlan *
ReadPlan(int mask, bool with_xmin)
{
	EsPlan	   *p = &read_plans[with_xmin][mask];

	if (p->sql == NULL)
	{
		StringInfoData sql;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		static const Oid types[] = {INT8OID, INT8OID, INT8OID, TEXTARRAYOID, TEXTOID,
		TEXTARRAYOID, TEXTOID, TEXTOID, INT4OID, INT4OID};

		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT " ES_EVENT_COLUMNS "%s FROM es.events"
						 " WHERE global_position OPERATOR(pg_catalog.>) $1"
						 " AND global_position OPERATOR(pg_catalog.<) $2",
						 with_xmin ? ", xmin" : "");
		for (int i = 0; i < (int) lengthof(filter_sql); i++)
			if (mask & (1 << i))
				appendStringInfoString(&sql, filter_sql[i]);
		appendStringInfoString(&sql, " ORDER BY global_position LIMIT $3");
		MemoryContextSwitchTo(old);
		p->nargs = lengthof(types);
		memcpy(p->argtypes, types, sizeof(types));

		/*
		 * With a filter, which index serves best depends on the values: a
		 * generic plan walks the whole primary key for a rare category.
		 */
		if (mask != 0)
			p->cursor_options = CURSOR_OPT_CUSTOM_PLAN;
		p->sql = sql.data;
	}
	return p;
}

/* A source: '$all', a category (no '-') or a stream (with a '-'). */
void
EsParseSource(const char *source, EsFilter *f)
{
	memset(f, 0, sizeof(EsFilter));
	if (strcmp(source, "$all") == 0)
		return;
	if (source[0] == '$')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown source \"%s\"", source),
				 errhint("A source is '$all', a category (a name without '-') or a stream.")));
	EsValidateName(source, "source");
	if (strchr(source, '-') != NULL)
		f->stream = pstrdup(source);
	else
		f->category = pstrdup(source);
}

/* EsParseSource for a new subscription or projection: not a queue's name. */
void
EsParseNewSource(const char *source, EsFilter *f)
{
	EsParseSource(source, f);
	if (f->stream != NULL && EsIsQueue(f->stream))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" is a queue", source),
				 errhint("Subscriptions and projections read persistent streams; consume a queue with es.dequeue.")));
}

/* A text[] argument without NULL elements, or NULL. */
static ArrayType *
TextArrayArg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	ArrayType  *a;

	if (PG_ARGISNULL(argno))
		return NULL;
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain nulls", what)));
	return a;
}

/* The plan's parameters, for SPI_execute_plan_extended. */
static ParamListInfo
Params(const EsPlan *p, const Datum *values, const char *nulls)
{
	ParamListInfo params = makeParamList(p->nargs);

	for (int i = 0; i < p->nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls[i] == 'n';
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = p->argtypes[i];
	}
	return params;
}

/*
 * Whether EsReadGlobal puts the events straight into a tuplestore.  Not
 * when upcasters run on them, nor when the caller's snapshot is the
 * transaction's (the rows it cannot see are cut off first).
 */
bool
EsReadFillsDirectly(void)
{
	return !IsolationUsesXactSnapshot() && !EsUpcasting();
}

/*
 * Read up to max_count events of f after position `after`, in position
 * order, below the read horizon; the caller is connected to SPI.  With a
 * tuplestore, when EsReadFillsDirectly, the events go straight into it (in
 * the columns of es.event, as stored).  Otherwise they are left in
 * SPI_tuptable, the events' columns and then xmin, and the caller
 * uses the first rows, as many as this returns.  *horizon receives the
 * horizon.
 */
uint64
EsReadGlobal(const EsFilter *f, int64 after, int max_count, int64 *horizon,
			 Tuplestorestate *into)
{
	Datum		values[10];
	char		nulls[10];
	int			mask = 0;
	Snapshot	snap;
	int			rc;
	uint64		n;

	memset(nulls, 'n', sizeof(nulls));
	*horizon = EsReadHorizon(&snap);
	values[0] = Int64GetDatum(after);
	values[1] = Int64GetDatum(*horizon);
	values[2] = Int64GetDatum(max_count);
	nulls[0] = nulls[1] = nulls[2] = ' ';
	if (f->categories)
	{
		mask |= F_CATEGORIES;
		values[3] = PointerGetDatum(f->categories);
		nulls[3] = ' ';
	}
	if (f->category)
	{
		mask |= F_CATEGORY;
		values[4] = CStringGetTextDatum(f->category);
		nulls[4] = ' ';
	}
	if (f->event_types)
	{
		mask |= F_TYPES;
		values[5] = PointerGetDatum(f->event_types);
		nulls[5] = ' ';
	}
	if (f->event_type)
	{
		mask |= F_TYPE;
		values[6] = CStringGetTextDatum(f->event_type);
		nulls[6] = ' ';
	}
	if (f->stream)
	{
		mask |= F_STREAM;
		values[7] = CStringGetTextDatum(f->stream);
		nulls[7] = ' ';
	}
	if (f->members > 1)
	{
		mask |= F_MEMBER;
		values[8] = Int32GetDatum(f->members);
		values[9] = Int32GetDatum(f->member);
		nulls[8] = nulls[9] = ' ';
	}

	if (into != NULL && EsReadFillsDirectly())
	{
		/* No copy through a tuple table: the executor fills the tuplestore. */
		EsPlan	   *p = ReadPlan(mask, false);
		SPIExecuteOptions options;
		DestReceiver *dest = CreateDestReceiver(DestTuplestore);

		SetTuplestoreDestReceiverParams(dest, into, CurrentMemoryContext, false, NULL, NULL);
		memset(&options, 0, sizeof(options));
		options.params = Params(p, values, nulls);
		options.read_only = true;	/* run with the active snapshot: ours */
		options.dest = dest;
		PushActiveSnapshot(snap);
		rc = EsRunExtended(p, &options);
		PopActiveSnapshot();
		UnregisterSnapshot(snap);
		dest->rDestroy(dest);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "global read failed: %s", SPI_result_code_string(rc));
		return SPI_processed;
	}

	rc = EsRun(ReadPlan(mask, true), values, nulls, true, snap, 0);
	UnregisterSnapshot(snap);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "global read failed: %s", SPI_result_code_string(rc));

	n = SPI_processed;
	if (IsolationUsesXactSnapshot() && n > 0)
	{
		Snapshot	mine = GetTransactionSnapshot();

		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;
			TransactionId xmin = DatumGetTransactionId(
				SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
							  ES_EVENT_NATTS + 1, &isnull));

			if (XidInMVCCSnapshot(xmin, mine))
			{
				n = i;
				break;
			}
		}
	}
	return n;
}

/* The columns of event row i of a global read's rows, for es.event. */
void
EsEventValues(SPITupleTable *tt, uint64 i, Datum *values, bool *nulls)
{
	for (int c = 0; c < ES_EVENT_NATTS; c++)
		values[c] = SPI_getbinval(tt->vals[i], tt->tupdesc, c + 1, &nulls[c]);
}

static EsPlan last_position_plan = {
	.sql = "SELECT pg_catalog.max(global_position) FROM es.events",
	.nargs = 0
};

/*
 * The highest settled position: every position up to it is committed or
 * aborted for good.  The horizon - 1 while a transaction holds a position,
 * else the last event there is (0 for none).  A read after it returns only
 * events that were in flight or not yet appended.  Caller is in SPI.
 */
int64
EsSettledPosition(void)
{
	Snapshot	snap;
	int64		horizon = EsReadHorizon(&snap);
	int64		pos = horizon - 1;

	if (horizon == PG_INT64_MAX)
	{
		bool		isnull;
		Datum		d;

		if (EsRun(&last_position_plan, NULL, NULL, true, snap, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the last global position");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		pos = isnull ? 0 : DatumGetInt64(d);
	}
	UnregisterSnapshot(snap);
	return pos;
}

static EsPlan category_head_plan = {
	.sql = "SELECT pg_catalog.max(e.global_position) FROM es.events e"
	" WHERE pg_catalog.split_part(e.stream, '-', 1) OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan stream_head_plan = {
	.sql = "SELECT e.global_position FROM es.events e"
	" WHERE e.stream OPERATOR(pg_catalog.=) $1"
	" ORDER BY e.stream_offset DESC LIMIT 1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/*
 * es.source_head(source) → the position of the last event of '$all', a
 * category (a name without '-') or a stream; 0 for none.  C since 0.7.0,
 * so that it reads es.events as its owner, like every function of the
 * API: the monitor role of docs/security.md sees lags, not events.
 */
PG_FUNCTION_INFO_V1(es_source_head);
Datum
es_source_head(PG_FUNCTION_ARGS)
{
	char	   *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum		arg = PG_GETARG_DATUM(0);
	EsPlan	   *plan = strcmp(source, "$all") == 0 ? &last_position_plan :
		strchr(source, '-') == NULL ? &category_head_plan : &stream_head_plan;
	bool		isnull = true;
	int64		head = 0;

	SPI_connect();
	if (EsRun(plan, &arg, NULL, true, InvalidSnapshot, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the head of source \"%s\"", source);
	if (SPI_processed > 0)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			head = DatumGetInt64(d);
	}
	SPI_finish();
	PG_RETURN_INT64(head);
}

/* es.settled_position() → the highest position below which nothing is in flight. */
PG_FUNCTION_INFO_V1(es_settled_position);
Datum
es_settled_position(PG_FUNCTION_ARGS)
{
	int64		pos;

	SPI_connect();
	pos = EsSettledPosition();
	SPI_finish();
	PG_RETURN_INT64(pos);
}

static void
PutEvents(ReturnSetInfo *rsinfo, uint64 n)
{
	for (uint64 i = 0; i < n; i++)
	{
		Datum		values[ES_EVENT_NATTS];
		bool		nulls[ES_EVENT_NATTS];

		EsEventValues(SPI_tuptable, i, values, nulls);
		EsUpcast(values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* Put the events of a global read into the function's result. */
void
EsReturnGlobal(FunctionCallInfo fcinfo, const EsFilter *f, int64 after, int max_count)
{
	ReturnSetInfo *rsinfo;
	int64		horizon;
	uint64		n;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SPI_connect();
	if (EsReadFillsDirectly())
		(void) EsReadGlobal(f, after, max_count, &horizon, rsinfo->setResult);
	else
	{
		n = EsReadGlobal(f, after, max_count, &horizon, NULL);
		PutEvents(rsinfo, n);
	}
	SPI_finish();
}

/*
 * es.read_all(from_position, max_count, categories, event_types): up to
 * max_count events after from_position (NULL: from the start), in global
 * order, of the given categories and event types (NULL: any).
 */
PG_FUNCTION_INFO_V1(es_read_all);
Datum
es_read_all(PG_FUNCTION_ARGS)
{
	int64		after = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int			max_count;
	EsFilter	f;

	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_position must not be negative"),
				 errdetail("Got %lld.", (long long) after)));
	max_count = EsMaxCountArg(fcinfo, 1);
	memset(&f, 0, sizeof(f));
	f.categories = TextArrayArg(fcinfo, 2, "categories");
	if (f.categories != NULL)
	{
		ArrayIterator it = array_create_iterator(f.categories, 0, NULL);
		Datum		c;
		bool		isnull;

		while (array_iterate(it, &c, &isnull))
			if (strchr(TextDatumGetCString(c), '-') != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("category \"%s\" contains '-'", TextDatumGetCString(c)),
						 errhint("A category is the part of a stream name before its first '-'.")));
		array_free_iterator(it);
	}
	f.event_types = TextArrayArg(fcinfo, 3, "event_types");
	/* One element: the plan that can walk an index in position order. */
	if (f.categories && ArrayGetNItems(ARR_NDIM(f.categories), ARR_DIMS(f.categories)) == 1)
	{
		Datum	   *elems;
		int			n;

		deconstruct_array(f.categories, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
		f.category = TextDatumGetCString(elems[0]);
		f.categories = NULL;
	}
	EsReturnGlobal(fcinfo, &f, after, max_count);
	return (Datum) 0;
}

/*
 * Where a subscription or projection starts: 'beginning' (0), 'end' (the
 * settled position now) or a position.  Caller is in SPI.
 */
int64
EsParseStart(const char *start)
{
	size_t		len = strlen(start);

	if (strcmp(start, "beginning") == 0)
		return 0;
	if (strcmp(start, "end") == 0)
		return EsSettledPosition();
	if (len == 0 || len > 18 || strspn(start, "0123456789") != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid start \"%s\"", start),
				 errhint("A start is 'beginning', 'end' or a global position (a whole number, 0 or more).")));
	return pg_strtoint64(start);
}
