/*
 * streams.c
 *	  Appends to persistent streams: es.append, es.append_event,
 *	  es.append_batch.
 *
 * An append takes the stream's lock, looks at the stream once (its kind, its
 * last offset, and whether the event ids were appended before), checks the
 * expected version, and only then takes global positions and inserts.  So a
 * refused append leaves no gap in the stream offsets, and the global
 * positions it would have used are never taken.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "event_streaming.h"

/* locktag_field4 of stream locks, so they never collide with user advisory locks. */
#define ES_LOCKTAG_STREAM 0x4553

/* What an append found out about its stream. */
typedef struct StreamState
{
	bool		exists;
	bool		is_queue;
	int64		version;		/* last offset, -1 if no events */
} StreamState;

/* One event to append. */
typedef struct NewEvent
{
	text	   *event_type;
	Datum		data;			/* jsonb */
	Datum		metadata;		/* jsonb, or 0 for NULL */
	pg_uuid_t	event_id;
	bool		id_given;
} NewEvent;

/* Column numbers of es.events and es.stream_catalog read by the probes. */
#define Anum_events_global_position 1
#define Anum_events_stream 2
#define Anum_events_stream_offset 3
#define Anum_stream_catalog_kind 2
#define Anum_stream_catalog_truncated_before 4

static EsPlan batch_ids_plan = {
	.sql = "SELECT d.event_id, d.stream, d.stream_offset FROM es.events d"
	" WHERE d.event_id OPERATOR(pg_catalog.=) ANY ($1)",
	.nargs = 1,
	.argtypes = {UUIDARRAYOID}
};

static EsPlan catalog_insert_plan = {
	.sql = "INSERT INTO es.stream_catalog (stream, kind) VALUES ($1, 'persistent')",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan insert_plan = {
	.sql = "INSERT INTO es.events (global_position, stream, stream_offset, event_id,"
	"                       event_type, data, metadata, correlation_id, causation_id,"
	"                       schema_version)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7,"
	"         $7 OPERATOR(pg_catalog.->>) 'correlation_id'::pg_catalog.text,"
	"         $7 OPERATOR(pg_catalog.->>) 'causation_id'::pg_catalog.text, $8)",
	.nargs = 8,
	.argtypes = {INT8OID, TEXTOID, INT8OID, UUIDOID, TEXTOID, JSONBOID, JSONBOID, INT4OID}
};

static EsPlan batch_insert_plan = {
	.sql = "INSERT INTO es.events (global_position, stream, stream_offset, event_id,"
	"                       event_type, data, metadata, correlation_id, causation_id,"
	"                       schema_version)"
	" SELECT u.p, $1, u.o, u.i, u.t, u.d, u.m,"
	"        u.m OPERATOR(pg_catalog.->>) 'correlation_id'::pg_catalog.text,"
	"        u.m OPERATOR(pg_catalog.->>) 'causation_id'::pg_catalog.text, u.v"
	"   FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
	"                   pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
	"                   pg_catalog.unnest($8))"
	"        AS u(p, o, i, t, d, m, v)",
	.nargs = 8,
	.argtypes = {TEXTOID, INT8ARRAYOID, INT8ARRAYOID, UUIDARRAYOID, TEXTARRAYOID,
		JSONBARRAYOID, JSONBARRAYOID, INT4ARRAYOID}
};

/*
 * Imported rows: each the first event of a new stream.  A stream that
 * exists already (imported before, or written since) is left alone.
 */
static EsPlan import_plan = {
	.sql = "WITH new AS ("
	"  INSERT INTO es.stream_catalog (stream, kind)"
	"  SELECT s, 'persistent' FROM pg_catalog.unnest($1) AS s"
	"  ON CONFLICT DO NOTHING RETURNING stream)"
	" INSERT INTO es.events (global_position, stream, stream_offset, event_id,"
	"                        event_type, data, metadata, schema_version)"
	" SELECT u.p, u.s, 0, u.i, $5, u.d, $6, $7"
	"   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
	"                   pg_catalog.unnest($4)) AS u(s, p, i, d)"
	"  WHERE u.s OPERATOR(pg_catalog.=) ANY (SELECT n.stream FROM new n)",
	.nargs = 7,
	.argtypes = {TEXTARRAYOID, INT8ARRAYOID, UUIDARRAYOID, JSONBARRAYOID, TEXTOID,
		JSONBOID, INT4OID}
};

/* One of the names $1 that is not a persistent stream's, if any. */
static EsPlan import_kind_plan = {
	.sql = "SELECT stream FROM es.stream_catalog"
	" WHERE stream OPERATOR(pg_catalog.=) ANY ($1)"
	"   AND kind OPERATOR(pg_catalog.<>) 'persistent' LIMIT 1",
	.nargs = 1,
	.argtypes = {TEXTARRAYOID}
};

/*
 * Lock a stream or queue name for the rest of the transaction.
 *
 * A heavyweight lock on a hash of the name: appends take it in ExclusiveLock
 * mode, so appends to one stream serialize while appends to different
 * streams never wait for each other (a 64-bit hash collision only costs a
 * wait), and unlike a row lock it writes nothing.  Queue creation and drop
 * take it in ExclusiveLock mode too, so a name cannot become both kinds at
 * once; enqueues take ShareLock, so they run side by side but never into a
 * queue being dropped.
 */
void
EsLockStream(const char *name, LOCKMODE mode)
{
	uint64		h = hash_bytes_extended((const unsigned char *) name, strlen(name), 0);
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 ES_LOCKTAG_STREAM);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * Run a look-up under the latest snapshot.  We hold the stream lock, so the
 * previous holder has finished; a REPEATABLE READ transaction snapshot could
 * miss its commit and hand out an offset twice.
 */
static void
RunLookup(EsPlan *p, Datum *values, const char *nulls)
{
	int			rc = EsRun(p, values, nulls, false, GetLatestSnapshot(), 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "stream look-up failed: %s", SPI_result_code_string(rc));
}

static void
RunWrite(EsPlan *p, Datum *values, const char *nulls, int expected)
{
	int			rc = EsRun(p, values, nulls, false, InvalidSnapshot, 0);

	if (rc != SPI_OK_INSERT || SPI_processed != (uint64) expected)
		elog(ERROR, "event insert failed: %s", SPI_result_code_string(rc));
}

static Datum
Column(int row, int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
}

/*
 * Look at the stream: kind and version, and, when an event id is given, where
 * that id was appended before (dup_* set, dup_found true).
 *
 * The look-ups run under the latest snapshot: we hold the stream lock, so
 * the previous holder has finished, but a REPEATABLE READ transaction
 * snapshot could miss its commit and hand out an offset twice.  The command
 * counter is advanced first so that earlier appends of this transaction are
 * seen too.
 */
static void
ProbeStream(const char *stream, const pg_uuid_t *event_id, StreamState *st,
			bool *dup_found, char **dup_stream, int64 *dup_offset, int64 *dup_position)
{
	static const AttrNumber catalog_atts[] = {Anum_stream_catalog_kind,
	Anum_stream_catalog_truncated_before};
	static const AttrNumber offset_att[] = {Anum_events_stream_offset};
	static const AttrNumber dup_atts[] = {Anum_events_stream, Anum_events_stream_offset,
	Anum_events_global_position};
	Datum		name = CStringGetTextDatum(stream);
	Datum		v[3];
	bool		n[3];
	Snapshot	snap;

	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());

	st->exists = EsIndexFirst("stream_catalog", "stream_catalog_pkey", name, F_TEXTEQ,
							  ForwardScanDirection, snap, 2, catalog_atts, v, n);
	st->is_queue = st->exists &&
		strcmp(TextDatumGetCString(v[0]), ES_KIND_EPHEMERAL) == 0;
	/*
	 * Retention may have removed every event: numbering goes on.  (Before
	 * 0.3.0 there is no truncated_before: it reads as NULL.)
	 */
	st->version = st->exists && !n[1] ? DatumGetInt64(v[1]) - 1 : -1;
	if (EsIndexFirst("events", "events_stream_offset_key", name, F_TEXTEQ,
					 BackwardScanDirection, snap, 1, offset_att, v, n))
		st->version = DatumGetInt64(v[0]);

	*dup_found = event_id != NULL &&
		EsIndexFirst("events", "events_event_id_key", UUIDPGetDatum(event_id), F_UUID_EQ,
					 ForwardScanDirection, snap, 3, dup_atts, v, n);
	if (*dup_found)
	{
		*dup_stream = TextDatumGetCString(v[0]);
		*dup_offset = DatumGetInt64(v[1]);
		*dup_position = DatumGetInt64(v[2]);
	}
	UnregisterSnapshot(snap);
}

/* Refuse a queue's name, and a version other than the expected one. */
static void
CheckStream(const char *stream, const StreamState *st, bool has_expected, int64 expected)
{
	if (st->is_queue)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("stream \"%s\" is a queue", stream),
				 errdetail("Events can only be appended to persistent streams.")));
	if (has_expected && expected != st->version)
		ereport(ERROR,
				(errcode(ERRCODE_ES_WRONG_EXPECTED_VERSION),
				 errmsg("wrong expected version for stream \"%s\"", stream),
				 errdetail("Expected version %lld, actual version %lld.",
						   (long long) expected, (long long) st->version)));
}

static void
RegisterStream(const char *stream, const StreamState *st)
{
	Datum		values[1];

	if (st->exists)
		return;
	values[0] = CStringGetTextDatum(stream);
	RunWrite(&catalog_insert_plan, values, NULL, 1);
}

/* Argument checks of es.append and es.append_event. */
static void
ReadAppendArgs(FunctionCallInfo fcinfo, char **stream, NewEvent *ev,
			   bool *has_expected, int64 *expected)
{
	char	   *event_type;

	*stream = EsTextArgNotNull(fcinfo, 0, "stream name");
	EsValidateName(*stream, "stream name");
	event_type = EsTextArgNotNull(fcinfo, 1, "event type");
	EsValidateName(event_type, "event type");
	ev->event_type = PG_GETARG_TEXT_PP(1);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event data must not be null"),
				 errhint("Use '{}' or 'null'::jsonb for an event without data.")));
	ev->data = PG_GETARG_DATUM(2);
	EsCheckPayloadSize(ev->data, "event data");
	ev->metadata = 0;
	if (!PG_ARGISNULL(3))
	{
		EsCheckPayloadSize(PG_GETARG_DATUM(3), "event metadata");
		EsValidateMetadata(PG_GETARG_JSONB_P(3));
		ev->metadata = PG_GETARG_DATUM(3);
	}
	*has_expected = !PG_ARGISNULL(4);
	*expected = *has_expected ? PG_GETARG_INT64(4) : -1;
	if (*has_expected)
		EsValidateExpectedVersion(*expected);
	ev->id_given = !PG_ARGISNULL(5);
	if (ev->id_given)
		ev->event_id = *PG_GETARG_UUID_P(5);
	else
		EsNewUuid(&ev->event_id);
}

/* The result of one append. */
typedef struct AppendResult
{
	int64		stream_offset;
	int64		global_position;
	pg_uuid_t	event_id;
	bool		duplicate;
} AppendResult;

/*
 * Append one event.  lock_stream false is for the capture trigger only: the
 * captured row's lock already orders the changes of one stream (see
 * capture.c), and the unique (stream, stream_offset) key is the backstop.
 */
static void
AppendEvent(const char *stream, NewEvent *ev, bool has_expected, int64 expected,
	   bool lock_stream, AppendResult *res)
{
	StreamState st;
	bool		dup_found;
	char	   *dup_stream = NULL;
	int64		dup_offset = 0;
	int64		dup_position = 0;
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int32		version = EsCurrentVersion(ev->event_type);

	SPI_connect();
	if (lock_stream)
		EsLockStream(stream, ExclusiveLock);
	ProbeStream(stream, ev->id_given ? &ev->event_id : NULL, &st,
				&dup_found, &dup_stream, &dup_offset, &dup_position);

	res->event_id = ev->event_id;
	if (dup_found)
	{
		/* A retry of an append that already happened: report the original. */
		if (strcmp(dup_stream, stream) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("event id is already used in another stream"),
					 errdetail("Event %s was appended to stream \"%s\".",
							   DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&ev->event_id))),
							   dup_stream)));
		res->stream_offset = dup_offset;
		res->global_position = dup_position;
		res->duplicate = true;
		SPI_finish();
		return;
	}

	CheckStream(stream, &st, has_expected, expected);
	RegisterStream(stream, &st);

	res->stream_offset = st.version + 1;
	EsNextGlobalPositions(EsRelationOid("global_position_seq"), 1, &res->global_position);
	EsNoteAppend(stream, res->global_position, 1);
	res->duplicate = false;

	values[0] = Int64GetDatum(res->global_position);
	values[1] = CStringGetTextDatum(stream);
	values[2] = Int64GetDatum(res->stream_offset);
	values[3] = UUIDPGetDatum(&ev->event_id);
	values[4] = PointerGetDatum(ev->event_type);
	values[5] = ev->data;
	values[6] = ev->metadata;
	if (ev->metadata == 0)
		nulls[6] = 'n';
	values[7] = Int32GetDatum(version);
	RunWrite(&insert_plan, values, nulls, 1);
	SPI_finish();
}

/* The work of es.append and es.append_event. */
static void
AppendOne(FunctionCallInfo fcinfo, AppendResult *res)
{
	char	   *stream;
	NewEvent	ev;
	bool		has_expected;
	int64		expected;

	ReadAppendArgs(fcinfo, &stream, &ev, &has_expected, &expected);
	EsRequirePreloaded();
	AppendEvent(stream, &ev, has_expected, expected, true, res);
}

/*
 * An event of the capture trigger, at the end of its stream; returns its
 * stream offset.
 */
int64
EsAppendCaptured(const char *stream, const char *event_type, Jsonb *data, Jsonb *metadata)
{
	NewEvent	ev;
	AppendResult res;

	EsValidateName(stream, "stream name");
	EsValidateName(event_type, "event type");
	EsRequirePreloaded();
	ev.event_type = cstring_to_text(event_type);
	ev.data = JsonbPGetDatum(data);
	ev.metadata = metadata ? JsonbPGetDatum(metadata) : 0;
	ev.id_given = false;
	EsNewUuid(&ev.event_id);
	AppendEvent(stream, &ev, false, -1, false, &res);
	return res.stream_offset;
}

/*
 * Imported rows, n at a time: streams[i] gets data[i] as its first event,
 * unless it exists already.  Returns how many were appended.
 */
int64
EsImportRows(int n, Datum *streams, Datum *data, const char *event_type, Jsonb *metadata)
{
	int64	   *positions = palloc(sizeof(int64) * n);
	Datum	   *pos = palloc(sizeof(Datum) * n);
	pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * n);
	Datum	   *id_datums = palloc(sizeof(Datum) * n);
	Datum		values[7];
	int			rc;

	EsRequirePreloaded();
	values[0] = PointerGetDatum(construct_array(streams, n, TEXTOID, -1, false, TYPALIGN_INT));
	if (EsRun(&import_kind_plan, values, NULL, false, GetLatestSnapshot(), 1) != SPI_OK_SELECT)
		elog(ERROR, "import look-up failed");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a queue, not a persistent stream",
						TextDatumGetCString(Column(0, 1))),
				 errhint("Choose a stream prefix that no queue name starts with.")));
	EsNextGlobalPositions(EsRelationOid("global_position_seq"), n, positions);
	for (int i = 0; i < n; i++)
	{
		pos[i] = Int64GetDatum(positions[i]);
		EsNewUuid(&ids[i]);
		id_datums[i] = UUIDPGetDatum(&ids[i]);
		EsNoteAppend(TextDatumGetCString(streams[i]), positions[i], 1);
	}
	values[1] = PointerGetDatum(construct_array(pos, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(id_datums, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	values[3] = PointerGetDatum(construct_array(data, n, JSONBOID, -1, false, TYPALIGN_INT));
	values[4] = CStringGetTextDatum(event_type);
	values[5] = JsonbPGetDatum(metadata);
	values[6] = Int32GetDatum(EsCurrentVersion(DatumGetTextPP(values[4])));
	rc = EsRun(&import_plan, values, NULL, false, InvalidSnapshot, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "import failed: %s", SPI_result_code_string(rc));
	return (int64) SPI_processed;
}

/*
 * es.append(stream, event_type, data, metadata, expected_version, event_id)
 *		→ the new event's stream offset.
 */
PG_FUNCTION_INFO_V1(es_append);
Datum
es_append(PG_FUNCTION_ARGS)
{
	AppendResult res;

	AppendOne(fcinfo, &res);
	PG_RETURN_INT64(res.stream_offset);
}

/*
 * es.append_event(same arguments) → es.append_result: offset, global
 * position, event id, and whether the call was a retry of an earlier append.
 */
PG_FUNCTION_INFO_V1(es_append_event);
Datum
es_append_event(PG_FUNCTION_ARGS)
{
	AppendResult res;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	AppendOne(fcinfo, &res);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	*id = res.event_id;
	values[0] = Int64GetDatum(res.stream_offset);
	values[1] = Int64GetDatum(res.global_position);
	values[2] = UUIDPGetDatum(id);
	values[3] = BoolGetDatum(res.duplicate);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

static void
BatchError(int index, const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid event at index %d of the batch", index),
			 errdetail("%s", msg),
			 errhint("Each event is an object {\"type\": text, \"data\": any JSON, \"metadata\": object, \"id\": uuid}; only \"type\" and \"data\" are required.")));
}

/* Parse one element of the batch array into ev. */
static void
ParseBatchEvent(JsonbValue *elem, int index, NewEvent *ev)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		have_type = false;
	bool		have_data = false;

	if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
		BatchError(index, "The event is not a JSON object.");

	memset(ev, 0, sizeof(*ev));
	it = JsonbIteratorInit(elem->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);

		if (strcmp(key, "type") == 0)
		{
			char	   *type;

			if (v.type != jbvString)
				BatchError(index, "\"type\" must be a string.");
			type = pnstrdup(v.val.string.val, v.val.string.len);
			EsValidateName(type, "event type");
			ev->event_type = cstring_to_text(type);
			have_type = true;
		}
		else if (strcmp(key, "data") == 0)
		{
			ev->data = JsonbPGetDatum(JsonbValueToJsonb(&v));
			EsCheckPayloadSize(ev->data, "event data");
			have_data = true;
		}
		else if (strcmp(key, "metadata") == 0)
		{
			if (v.type == jbvNull)
				continue;
			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				BatchError(index, "\"metadata\" must be a JSON object or null.");
			ev->metadata = JsonbPGetDatum(JsonbValueToJsonb(&v));
			EsCheckPayloadSize(ev->metadata, "event metadata");
		}
		else if (strcmp(key, "id") == 0)
		{
			if (v.type == jbvNull)
				continue;
			if (v.type != jbvString)
				BatchError(index, "\"id\" must be a UUID string or null.");
			ev->event_id = *DatumGetUUIDP(DirectFunctionCall1(uuid_in,
															  CStringGetDatum(pnstrdup(v.val.string.val, v.val.string.len))));
			ev->id_given = true;
		}
		else
			BatchError(index, psprintf("Unknown key \"%s\".", key));
	}
	if (!have_type)
		BatchError(index, "\"type\" is missing.");
	if (!have_data)
		BatchError(index, "\"data\" is missing.");
	if (!ev->id_given)
		EsNewUuid(&ev->event_id);
}

static int
CompareUuid(const void *a, const void *b)
{
	return memcmp(a, b, UUID_LEN);
}

/* Error context: which element of the batch was being parsed. */
static void
BatchErrorContext(void *arg)
{
	errcontext("event at index %d of the batch", *(int *) arg);
}

/* Parse and check the whole batch before anything is written. */
static NewEvent *
ParseBatch(Jsonb *events, int *count, bool *any_id_given)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	NewEvent   *evs;
	pg_uuid_t  *ids;
	int			n;
	int			i = 0;
	ErrorContextCallback errcb;

	if (JB_ROOT_IS_SCALAR(events) || !JB_ROOT_IS_ARRAY(events))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events must be a JSON array")));
	n = JB_ROOT_COUNT(events);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events must not be an empty array")));
	if (n > es_max_batch_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of %d events is too large", n),
				 errdetail("The limit is %d events.", es_max_batch_size),
				 errhint("Split the batch, or raise event_streaming.max_batch_size.")));

	evs = palloc(sizeof(NewEvent) * n);
	*any_id_given = false;
	errcb.callback = BatchErrorContext;
	errcb.arg = &i;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	it = JsonbIteratorInit(&events->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		ParseBatchEvent(&v, i, &evs[i]);
		*any_id_given |= evs[i].id_given;
		i++;
	}
	error_context_stack = errcb.previous;
	Assert(i == n);

	ids = palloc(sizeof(pg_uuid_t) * n);
	for (i = 0; i < n; i++)
		ids[i] = evs[i].event_id;
	qsort(ids, n, sizeof(pg_uuid_t), CompareUuid);
	for (i = 1; i < n; i++)
		if (memcmp(&ids[i - 1], &ids[i], UUID_LEN) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("event ids within a batch must be distinct"),
					 errdetail("Event id %s appears more than once.",
							   DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&ids[i]))))));
	*count = n;
	return evs;
}

static ArrayType *
UuidArray(NewEvent *evs, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = UUIDPGetDatum(&evs[i].event_id);
	return construct_array(d, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
}

/*
 * Whether the batch was appended before.  None of its ids known: no.  All
 * of them, in this stream, at consecutive offsets in batch order: yes, and
 * *last_offset is the original result.  Anything else is an error.
 */
static bool
BatchIsRetry(const char *stream, NewEvent *evs, int n, int64 *last_offset)
{
	Datum		values[1];
	int64		first = -1;

	values[0] = PointerGetDatum(UuidArray(evs, n));
	RunLookup(&batch_ids_plan, values, NULL);
	if (SPI_processed == 0)
		return false;

	if (SPI_processed == (uint64) n)
	{
		bool		match = true;

		for (uint64 r = 0; r < SPI_processed && match; r++)
		{
			pg_uuid_t  *id = DatumGetUUIDP(Column(r, 1));
			int64		off = DatumGetInt64(Column(r, 3));
			int			i;

			if (strcmp(TextDatumGetCString(Column(r, 2)), stream) != 0)
			{
				match = false;
				break;
			}
			for (i = 0; i < n; i++)
				if (memcmp(id, &evs[i].event_id, UUID_LEN) == 0)
					break;
			if (r == 0)
				first = off - i;
			match = (off - i == first);
		}
		if (match)
		{
			*last_offset = first + n - 1;
			return true;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("batch repeats event ids appended before"),
			 errdetail("%llu of its %d event ids are already stored, but not as this same batch in stream \"%s\".",
					   (unsigned long long) SPI_processed, n, stream),
			 errhint("A retry must send the same events with the same ids to the same stream.")));
	return false;				/* keep compiler quiet */
}

/*
 * es.append_batch(stream, events jsonb, expected_version) → the offset of the
 * batch's last event.  One lock, one check, contiguous offsets, one INSERT.
 */
PG_FUNCTION_INFO_V1(es_append_batch);
Datum
es_append_batch(PG_FUNCTION_ARGS)
{
	char	   *stream;
	NewEvent   *evs;
	int			n;
	bool		any_id_given;
	bool		has_expected;
	int64		expected = -1;
	StreamState st;
	bool		dup_found;
	int64		result;
	Datum	   *pos, *off, *types, *data, *meta, *versions;
	bool	   *meta_nulls;
	int			dims[1];
	int			lbs[1] = {1};
	Datum		values[8];
	int64	   *positions;

	stream = EsTextArgNotNull(fcinfo, 0, "stream name");
	EsValidateName(stream, "stream name");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("events must not be null")));
	evs = ParseBatch(PG_GETARG_JSONB_P(1), &n, &any_id_given);
	has_expected = !PG_ARGISNULL(2);
	if (has_expected)
	{
		expected = PG_GETARG_INT64(2);
		EsValidateExpectedVersion(expected);
	}
	EsRequirePreloaded();

	SPI_connect();
	EsLockStream(stream, ExclusiveLock);
	if (any_id_given && BatchIsRetry(stream, evs, n, &result))
	{
		SPI_finish();
		PG_RETURN_INT64(result);
	}
	ProbeStream(stream, NULL, &st, &dup_found, NULL, NULL, NULL);
	CheckStream(stream, &st, has_expected, expected);
	RegisterStream(stream, &st);

	positions = palloc(sizeof(int64) * n);
	EsNextGlobalPositions(EsRelationOid("global_position_seq"), n, positions);
	EsNoteAppend(stream, positions[n - 1], n);
	pos = palloc(sizeof(Datum) * n);
	off = palloc(sizeof(Datum) * n);
	types = palloc(sizeof(Datum) * n);
	data = palloc(sizeof(Datum) * n);
	meta = palloc(sizeof(Datum) * n);
	meta_nulls = palloc(sizeof(bool) * n);
	versions = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		versions[i] = Int32GetDatum(EsCurrentVersion(evs[i].event_type));
		pos[i] = Int64GetDatum(positions[i]);
		off[i] = Int64GetDatum(st.version + 1 + i);
		types[i] = PointerGetDatum(evs[i].event_type);
		data[i] = evs[i].data;
		meta[i] = evs[i].metadata;
		meta_nulls[i] = (evs[i].metadata == 0);
	}
	dims[0] = n;
	values[0] = CStringGetTextDatum(stream);
	values[1] = PointerGetDatum(construct_array(pos, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(off, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(UuidArray(evs, n));
	values[4] = PointerGetDatum(construct_array(types, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(data, n, JSONBOID, -1, false, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_md_array(meta, meta_nulls, 1, dims, lbs,
												   JSONBOID, -1, false, TYPALIGN_INT));
	values[7] = PointerGetDatum(construct_array(versions, n, INT4OID, 4, true, TYPALIGN_INT));
	RunWrite(&batch_insert_plan, values, NULL, n);
	SPI_finish();

	PG_RETURN_INT64(st.version + n);
}
