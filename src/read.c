/*
 * read.c
 *	  Reads of persistent streams: es.read_stream, es.read_stream_backward,
 *	  es.stream_version.
 *
 * Reads run under the caller's snapshot, like any STABLE function: they see
 * what the calling statement sees, and take no locks beyond the tables'.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "event_streaming.h"

static EsPlan forward_plan = {
	.sql = "SELECT " ES_EVENT_COLUMNS " FROM es.events"
	" WHERE stream OPERATOR(pg_catalog.=) $1 AND stream_offset OPERATOR(pg_catalog.>=) $2"
	" ORDER BY stream_offset LIMIT $3",
	.nargs = 3,
	.argtypes = {TEXTOID, INT8OID, INT8OID}
};

static EsPlan backward_plan = {
	.sql = "SELECT " ES_EVENT_COLUMNS " FROM es.events"
	" WHERE stream OPERATOR(pg_catalog.=) $1 AND stream_offset OPERATOR(pg_catalog.<=) $2"
	" ORDER BY stream_offset DESC LIMIT $3",
	.nargs = 3,
	.argtypes = {TEXTOID, INT8OID, INT8OID}
};

/* Before 0.3.0 there is no truncated_before. */
static EsPlan version_plan_0_2 = {
	.sql = "SELECT c.kind, (SELECT e.stream_offset FROM es.events e"
	"                 WHERE e.stream OPERATOR(pg_catalog.=) $1"
	"                 ORDER BY e.stream_offset DESC LIMIT 1)"
	"  FROM (SELECT) AS one"
	"  LEFT JOIN es.stream_catalog c ON c.stream OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan version_plan = {
	.sql = "SELECT c.kind, COALESCE("
	"           (SELECT e.stream_offset FROM es.events e"
	"             WHERE e.stream OPERATOR(pg_catalog.=) $1"
	"             ORDER BY e.stream_offset DESC LIMIT 1),"
	"           c.truncated_before OPERATOR(pg_catalog.-) 1)"
	"  FROM (SELECT) AS one"
	"  LEFT JOIN es.stream_catalog c ON c.stream OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/* Run a read-only plan under the caller's snapshot. */
static void
RunRead(EsPlan *p, Datum *values)
{
	int			rc = EsRun(p, values, NULL, true, InvalidSnapshot, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "stream read failed: %s", SPI_result_code_string(rc));
}

/*
 * The stream's kind and version (-1: no events ever; after retention removed
 * every event, the last removed offset).  Refuses a queue's name: a name
 * belongs to one kind.
 */
static int64
StreamVersion(const char *stream)
{
	Datum		values[1] = {CStringGetTextDatum(stream)};
	bool		isnull;
	char	   *kind;
	Datum		v;

	RunRead(EsHasColumn("stream_catalog", "truncated_before") ?
			&version_plan : &version_plan_0_2, values);
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (kind != NULL && strcmp(kind, ES_KIND_EPHEMERAL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("stream \"%s\" is a queue", stream),
				 errdetail("Only persistent streams have events to read.")));
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	return isnull ? -1 : DatumGetInt64(v);
}

/*
 * Shared body of the reads: events as stored (raw), or brought to their
 * type's current version.
 */
static Datum
ReadStreamEvents(FunctionCallInfo fcinfo, EsPlan *plan, int64 default_from, bool raw)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *stream;
	int64		from;
	int			max_count;
	Datum		values[3];
	bool		upcast;

	stream = EsNameArg(fcinfo, 0, "stream name");
	from = PG_ARGISNULL(1) ? default_from : PG_GETARG_INT64(1);
	if (from < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_offset must not be negative"),
				 errdetail("Got %lld.", (long long) from)));
	max_count = EsMaxCountArg(fcinfo, 2);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	upcast = !raw && EsUpcasting();

	SPI_connect();
	values[0] = CStringGetTextDatum(stream);
	values[1] = Int64GetDatum(from);
	values[2] = Int64GetDatum(max_count);
	RunRead(plan, values);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		event[ES_EVENT_NATTS];
		bool		nulls[ES_EVENT_NATTS];

		if (!upcast)
		{
			tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
			continue;
		}
		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, event, nulls);
		EsUpcast(event, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, event, nulls);
	}
	/* No events: tell a queue's name apart from an empty stream. */
	if (SPI_processed == 0)
		(void) StreamVersion(stream);
	SPI_finish();

	return (Datum) 0;
}

/*
 * es.read_stream(stream, from_offset, max_count): up to max_count events at
 * offsets >= from_offset, in offset order.  Past the end: no rows.
 */
PG_FUNCTION_INFO_V1(es_read_stream);
Datum
es_read_stream(PG_FUNCTION_ARGS)
{
	return ReadStreamEvents(fcinfo, &forward_plan, 0, false);
}

/* es.read_stream_raw(same arguments): the events as stored, not upcast. */
PG_FUNCTION_INFO_V1(es_read_stream_raw);
Datum
es_read_stream_raw(PG_FUNCTION_ARGS)
{
	return ReadStreamEvents(fcinfo, &forward_plan, 0, true);
}

/*
 * es.read_stream_backward(stream, from_offset, max_count): up to max_count
 * events at offsets <= from_offset (NULL: from the last), newest first.
 */
PG_FUNCTION_INFO_V1(es_read_stream_backward);
Datum
es_read_stream_backward(PG_FUNCTION_ARGS)
{
	return ReadStreamEvents(fcinfo, &backward_plan, PG_INT64_MAX, false);
}

/* es.stream_version(stream) → offset of the last event, -1 for none. */
PG_FUNCTION_INFO_V1(es_stream_version);
Datum
es_stream_version(PG_FUNCTION_ARGS)
{
	char	   *stream = EsNameArg(fcinfo, 0, "stream name");
	int64		version;

	SPI_connect();
	version = StreamVersion(stream);
	SPI_finish();
	PG_RETURN_INT64(version);
}
