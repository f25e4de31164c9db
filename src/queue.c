/*
 * queue.c
 *	  Queues (ephemeral streams): creation, drop, purge, enqueue, and the
 *	  dead-letter queue's redrive and purge.
 *
 * A queue's name lives in es.stream_catalog with kind 'ephemeral' next to
 * the persistent streams, so one name is never both.  Creation and drop
 * take the name's lock exclusively; enqueues take it in share mode, so they
 * never write into a queue that is being dropped, and never wait for each
 * other.  Claiming, acking and dead-lettering are in claim.c.
 *
 * A message group's ids must commit in id order, or a later message could be
 * delivered while an earlier one, committed later, is still to come: so an
 * enqueue into a group also takes the group's lock, before its message id is
 * drawn, until commit.  Redrive gives messages new ids under the queue's
 * exclusive lock, for the same reason.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "event_streaming.h"

/* locktag_field4 of message group locks (stream locks use 0x4553). */
#define ES_LOCKTAG_GROUP 0x4547

/* Column numbers of es.queues and es.stream_catalog read by the look-ups. */
#define Anum_queues_queue_id 1
#define Anum_queues_visibility_timeout 3
#define Anum_queues_max_deliveries 4
#define Anum_queues_retry_delay 10
#define Anum_queues_retry_delay_max 11
#define Anum_stream_catalog_kind 2

static EsPlan catalog_insert_plan = {
	.sql = "INSERT INTO es.stream_catalog (stream, kind) VALUES ($1, 'ephemeral')",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan queue_insert_plan = {
	.sql = "INSERT INTO es.queues (queue, visibility_timeout, max_deliveries) VALUES ($1, $2, $3)",
	.nargs = 3,
	.argtypes = {TEXTOID, INTERVALOID, INT4OID}
};

/* Dead letters go by the foreign key's ON DELETE CASCADE. */
static EsPlan drop_plan = {
	.sql = "WITH m AS (DELETE FROM es.messages WHERE queue_id OPERATOR(pg_catalog.=) $1),"
	"     q AS (DELETE FROM es.queues WHERE queue_id OPERATOR(pg_catalog.=) $1)"
	" DELETE FROM es.stream_catalog WHERE stream OPERATOR(pg_catalog.=) $2",
	.nargs = 2,
	.argtypes = {INT4OID, TEXTOID}
};

static EsPlan purge_plan = {
	.sql = "DELETE FROM es.messages WHERE queue_id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT4OID}
};

static EsPlan purge_dead_plan = {
	.sql = "DELETE FROM es.dead_letter_messages WHERE queue_id OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {INT4OID}
};

static EsPlan enqueue_plan = {
	.sql = "INSERT INTO es.messages (message_id, queue_id, available_at, enqueued_at,"
	"                         group_key, headers, payload)"
	" VALUES (pg_catalog.nextval('es.message_id_seq'::pg_catalog.regclass),"
	"         $1, $2, $3, $4, $5, $6)"
	" RETURNING message_id",
	.nargs = 6,
	.argtypes = {INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, JSONBOID}
};

static EsPlan enqueue_batch_plan = {
	.sql = "INSERT INTO es.messages (message_id, queue_id, available_at, enqueued_at,"
	"                         group_key, headers, payload)"
	" SELECT pg_catalog.nextval('es.message_id_seq'::pg_catalog.regclass),"
	"        $1, $2, $3, $4, $5, u.p"
	"   FROM pg_catalog.unnest($6) AS u(p)"
	" RETURNING message_id",
	.nargs = 6,
	.argtypes = {INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, JSONBARRAYOID}
};

/*
 * Back from the dead-letter queue, oldest dead letter first, as new
 * messages: new ids (drawn in that order, after the sort), a fresh delivery
 * count, the original enqueue time, headers and last error.
 */
static EsPlan redrive_plan = {
	.sql = "WITH moved AS ("
	"  DELETE FROM es.dead_letter_messages d"
	"   WHERE d.queue_id OPERATOR(pg_catalog.=) $1"
	"     AND d.message_id OPERATOR(pg_catalog.=) ANY (ARRAY("
	"         SELECT s.message_id FROM es.dead_letter_messages s"
	"          WHERE s.queue_id OPERATOR(pg_catalog.=) $1"
	"          ORDER BY s.dead_lettered_at, s.message_id"
	"          LIMIT $2))"
	"  RETURNING d.*)"
	" INSERT INTO es.messages (message_id, queue_id, available_at, enqueued_at,"
	"                         group_key, last_error, headers, payload)"
	" SELECT pg_catalog.nextval('es.message_id_seq'::pg_catalog.regclass),"
	"        queue_id, $3, enqueued_at, group_key, last_error, headers, payload"
	"   FROM moved ORDER BY dead_lettered_at, message_id",
	.nargs = 3,
	.argtypes = {INT4OID, INT8OID, TIMESTAMPTZOID}
};

/*
 * Run a write and return the number of rows it touched.  It runs under the
 * latest snapshot, like the look-ups: callers hold the queue's lock, and a
 * REPEATABLE READ snapshot would miss rows committed since it was taken.
 */
static uint64
RunWrite(EsPlan *p, Datum *values, const char *nulls, int expected_rc)
{
	int			rc;

	CommandCounterIncrement();
	rc = EsRun(p, values, nulls, false, GetLatestSnapshot(), 0);

	if (rc != expected_rc)
		elog(ERROR, "queue statement failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * The kind of a registered name (ES_KIND_*), or NULL.  Reads the latest
 * committed state: callers hold the name's lock or only report an error.
 */
static char *
NameKind(const char *name, Snapshot snap)
{
	static const AttrNumber kind_att[] = {Anum_stream_catalog_kind};
	Datum		v[1];
	bool		n[1];

	if (!EsIndexFirst("stream_catalog", "stream_catalog_pkey", CStringGetTextDatum(name),
					  F_TEXTEQ, ForwardScanDirection, snap, 1, kind_att, v, n))
		return NULL;
	return TextDatumGetCString(v[0]);
}

/*
 * Whether a name is a queue's, under the latest snapshot (the command
 * counter is advanced first, so a queue created earlier in this
 * transaction is seen).
 */
bool
EsIsQueue(const char *name)
{
	Snapshot	snap;
	char	   *kind;

	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	kind = NameKind(name, snap);
	UnregisterSnapshot(snap);
	return kind != NULL && strcmp(kind, ES_KIND_EPHEMERAL) == 0;
}

/*
 * Find a queue by name, under the latest snapshot (the command counter is
 * advanced first, so a queue created earlier in this transaction is seen).
 * An unknown name is an error unless missing_ok; a persistent stream's
 * name is always one.
 */
bool
EsLookupQueue(const char *name, EsQueue *q, bool missing_ok)
{
	static const AttrNumber atts[] = {Anum_queues_queue_id,
		Anum_queues_visibility_timeout, Anum_queues_max_deliveries,
	Anum_queues_retry_delay, Anum_queues_retry_delay_max};
	Datum		v[5];
	bool		n[5];
	Snapshot	snap;
	bool		found;
	char	   *kind = NULL;

	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	/* Before 0.3.0 there is no backoff: its columns read as NULL. */
	found = EsIndexFirst("queues", "queues_queue_key", CStringGetTextDatum(name), F_TEXTEQ,
						 ForwardScanDirection, snap, 5, atts, v, n);
	if (!found)
		kind = NameKind(name, snap);
	UnregisterSnapshot(snap);

	if (found)
	{
		q->id = DatumGetInt32(v[0]);
		q->visibility_timeout = EsIntervalMicroseconds(DatumGetIntervalP(v[1]));
		q->max_deliveries = DatumGetInt32(v[2]);
		q->retry_delay = n[3] ? 0 : EsIntervalMicroseconds(DatumGetIntervalP(v[3]));
		q->retry_delay_max = n[4] ? q->retry_delay :
			EsIntervalMicroseconds(DatumGetIntervalP(v[4]));
		return true;
	}
	if (kind != NULL && strcmp(kind, ES_KIND_PERSISTENT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("stream \"%s\" is not a queue", name),
				 errdetail("It is a persistent stream.")));
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", name),
				 errhint("Create it with es.create_queue().")));
	return false;
}

/*
 * es.create_queue(queue, visibility_timeout, max_deliveries, if_not_exists)
 *		→ true if created, false if it existed and if_not_exists was set.
 */
PG_FUNCTION_INFO_V1(es_create_queue);
Datum
es_create_queue(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "queue name");
	int32		max_deliveries;
	bool		if_not_exists;
	char	   *kind;
	Snapshot	snap;
	Datum		values[3];

	(void) EsIntervalArg(fcinfo, 1, "visibility timeout", false,
						 ES_MAX_VISIBILITY_TIMEOUT, "12 hours");
	max_deliveries = EsIntArg(fcinfo, 2, "max_deliveries", 1, ES_MAX_DELIVERIES, NULL);
	if_not_exists = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);

	SPI_connect();
	EsLockStream(name, ExclusiveLock);
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetLatestSnapshot());
	kind = NameKind(name, snap);
	UnregisterSnapshot(snap);
	if (kind != NULL && strcmp(kind, ES_KIND_PERSISTENT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("stream \"%s\" is a persistent stream", name),
				 errdetail("A name belongs to one kind: a queue cannot take a persistent stream's name.")));
	if (kind != NULL)
	{
		if (!if_not_exists)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("queue \"%s\" already exists", name)));
		ereport(NOTICE,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("queue \"%s\" already exists, skipping", name)));
		SPI_finish();
		PG_RETURN_BOOL(false);
	}

	values[0] = CStringGetTextDatum(name);
	RunWrite(&catalog_insert_plan, values, NULL, SPI_OK_INSERT);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = Int32GetDatum(max_deliveries);
	RunWrite(&queue_insert_plan, values, NULL, SPI_OK_INSERT);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/*
 * es.drop_queue(queue, if_exists) → true if dropped.  Its messages and dead
 * letters go with it, and the name becomes free.
 */
PG_FUNCTION_INFO_V1(es_drop_queue);
Datum
es_drop_queue(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "queue name");
	bool		if_exists = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	EsQueue		q;
	Datum		values[2];

	SPI_connect();
	EsLockStream(name, ExclusiveLock);
	if (!EsLookupQueue(name, &q, if_exists))
	{
		ereport(NOTICE,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist, skipping", name)));
		SPI_finish();
		PG_RETURN_BOOL(false);
	}
	values[0] = Int32GetDatum(q.id);
	values[1] = CStringGetTextDatum(name);
	RunWrite(&drop_plan, values, NULL, SPI_OK_DELETE);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/* Shared body of es.purge_queue and es.purge_dead_letters. */
static Datum
Purge(FunctionCallInfo fcinfo, EsPlan *plan)
{
	char	   *name = EsNameArg(fcinfo, 0, "queue name");
	EsQueue		q;
	Datum		values[1];
	uint64		n;

	SPI_connect();
	(void) EsLookupQueue(name, &q, false);
	values[0] = Int32GetDatum(q.id);
	n = RunWrite(plan, values, NULL, SPI_OK_DELETE);
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/*
 * es.purge_queue(queue) → the number of messages removed: waiting, delayed
 * and in flight (their receipts stop working).  Dead letters stay.
 */
PG_FUNCTION_INFO_V1(es_purge_queue);
Datum
es_purge_queue(PG_FUNCTION_ARGS)
{
	return Purge(fcinfo, &purge_plan);
}

/* es.purge_dead_letters(queue) → the number of dead letters removed. */
PG_FUNCTION_INFO_V1(es_purge_dead_letters);
Datum
es_purge_dead_letters(PG_FUNCTION_ARGS)
{
	return Purge(fcinfo, &purge_dead_plan);
}

/*
 * es.redrive(queue, max_messages) → the number of dead letters moved back
 * to the queue (all of them when max_messages is NULL), visible at once, as
 * new messages with new ids.  Takes the queue's lock exclusively: enqueues
 * wait for it, so a group's ids still commit in id order.
 */
PG_FUNCTION_INFO_V1(es_redrive);
Datum
es_redrive(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "queue name");
	EsQueue		q;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	uint64		n;

	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_messages must be positive"),
				 errdetail("Got %d. Use NULL to redrive every dead letter.", PG_GETARG_INT32(1))));

	SPI_connect();
	EsLockStream(name, ExclusiveLock);
	(void) EsLookupQueue(name, &q, false);
	values[0] = Int32GetDatum(q.id);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : Int64GetDatum((int64) PG_GETARG_INT32(1));
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	values[2] = TimestampTzGetDatum(GetCurrentTimestamp());
	n = RunWrite(&redrive_plan, values, nulls, SPI_OK_INSERT);
	SPI_finish();
	if (n > 0)
		EsQueueChanged(q.id);
	PG_RETURN_INT64((int64) n);
}

/* What es.enqueue and es.enqueue_batch share: everything but the payloads. */
typedef struct EnqueueArgs
{
	char	   *queue;
	Datum		headers;		/* jsonb, or 0 for NULL */
	int64		delay;			/* microseconds */
	Datum		group_key;		/* text, or 0 for NULL */
} EnqueueArgs;

static void
ReadEnqueueArgs(FunctionCallInfo fcinfo, EnqueueArgs *a)
{
	a->queue = EsNameArg(fcinfo, 0, "queue name");
	a->headers = 0;
	if (!PG_ARGISNULL(2))
	{
		if (!JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(2)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message headers must be a JSON object")));
		a->headers = PG_GETARG_DATUM(2);
		EsCheckPayloadSize(a->headers, "message headers");
	}
	a->delay = EsIntervalArg(fcinfo, 3, "delay", true, ES_MAX_DELAY, "7 days");
	a->group_key = 0;
	if (!PG_ARGISNULL(4))
	{
		EsValidateName(text_to_cstring(PG_GETARG_TEXT_PP(4)), "group key");
		a->group_key = PG_GETARG_DATUM(4);
	}
}

/* Serialize enqueues into one message group until commit. */
static void
LockGroup(int32 queue_id, Datum group_key)
{
	text	   *g = DatumGetTextPP(group_key);
	uint64		h = hash_bytes_extended((const unsigned char *) VARDATA_ANY(g),
										VARSIZE_ANY_EXHDR(g), (uint64) queue_id);
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, ES_LOCKTAG_GROUP);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Lock and find the queue, and fill the parameters common to both insert
 * plans.  Times come from the clock, not the transaction start: a message
 * becomes available, at the earliest, when it is enqueued, and its index
 * entry is inserted right after the clock is read.
 */
static void
PrepareEnqueue(EnqueueArgs *a, EsQueue *q, Datum *values, char *nulls)
{
	TimestampTz now;

	EsLockStream(a->queue, ShareLock);
	(void) EsLookupQueue(a->queue, q, false);
	if (a->group_key != 0)
		LockGroup(q->id, a->group_key);
	/* After any lock wait: dequeue's head hint relies on it (claim.c). */
	now = GetCurrentTimestamp();
	values[0] = Int32GetDatum(q->id);
	values[1] = TimestampTzGetDatum(now + a->delay);
	values[2] = TimestampTzGetDatum(now);
	values[3] = a->group_key;
	nulls[3] = a->group_key == 0 ? 'n' : ' ';
	values[4] = a->headers;
	nulls[4] = a->headers == 0 ? 'n' : ' ';
}

/*
 * es.enqueue(queue, payload, headers, delay, group_key) → the message id.
 * The message is visible to consumers once this transaction commits (and
 * the delay has passed); consumers waiting on the queue are woken then.
 */
PG_FUNCTION_INFO_V1(es_enqueue);
Datum
es_enqueue(PG_FUNCTION_ARGS)
{
	EnqueueArgs a;
	EsQueue		q;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int64		id;

	ReadEnqueueArgs(fcinfo, &a);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message payload must not be null"),
				 errhint("Use '{}' or 'null'::jsonb for a message without a payload.")));

	EsCheckPayloadSize(PG_GETARG_DATUM(1), "message payload");

	SPI_connect();
	PrepareEnqueue(&a, &q, values, nulls);
	values[5] = PG_GETARG_DATUM(1);
	RunWrite(&enqueue_plan, values, nulls, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	EsQueueChanged(q.id);
	EsCountQueue(q.id, ES_COUNT_ENQUEUED, 1);
	PG_RETURN_INT64(id);
}

/*
 * es.enqueue_batch(queue, payloads jsonb[], headers, delay, group_key) → the
 * message ids, in the order of the payloads.  One statement for the batch;
 * the messages share the headers, the delay and the group key (a batch in
 * one group is delivered in order).
 */
PG_FUNCTION_INFO_V1(es_enqueue_batch);
Datum
es_enqueue_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EnqueueArgs a;
	EsQueue		q;
	ArrayType  *payloads;
	int			n;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	ReadEnqueueArgs(fcinfo, &a);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payloads must not be null")));
	payloads = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(payloads) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payloads must be a one-dimensional array")));
	n = ArrayGetNItems(ARR_NDIM(payloads), ARR_DIMS(payloads));
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payloads must not be an empty array")));
	if (n > es_max_batch_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of %d messages is too large", n),
				 errdetail("The limit is %d messages.", es_max_batch_size),
				 errhint("Split the batch, or raise event_streaming.max_batch_size.")));
	if (array_contains_nulls(payloads))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payloads must not contain null"),
				 errhint("Use '{}' or 'null'::jsonb for a message without a payload.")));
	{
		ArrayIterator it = array_create_iterator(payloads, 0, NULL);
		Datum		payload;
		bool		isnull;

		while (array_iterate(it, &payload, &isnull))
			EsCheckPayloadSize(payload, "message payload");
		array_free_iterator(it);
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC | MAT_SRF_BLESS);
	SPI_connect();
	PrepareEnqueue(&a, &q, values, nulls);
	values[5] = PointerGetDatum(payloads);
	RunWrite(&enqueue_batch_plan, values, nulls, SPI_OK_INSERT_RETURNING);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &id, &isnull);
	}
	EsCountQueue(q.id, ES_COUNT_ENQUEUED, (int64) SPI_processed);
	SPI_finish();
	EsQueueChanged(q.id);
	return (Datum) 0;
}

/*
 * A queue's messages as es.peek shows them, in the order es.dequeue looks
 * at them.  A plain read: no row lock, no lease, no delivery counted.
 */
static EsPlan peek_plan = {
	.sql = "SELECT m.message_id,"
	"       CASE WHEN m.leased_until OPERATOR(pg_catalog.>) $3 THEN 'in_flight'"
	"            WHEN m.available_at OPERATOR(pg_catalog.>) $3 THEN 'delayed'"
	"            ELSE 'visible' END,"
	"       m.delivery_count, m.enqueued_at, m.available_at, m.leased_until,"
	"       m.consumer, m.group_key, m.last_error, m.headers, m.payload"
	"  FROM es.messages m"
	" WHERE m.queue_id OPERATOR(pg_catalog.=) $1"
	" ORDER BY m.available_at, m.message_id"
	" LIMIT $2",
	.nargs = 3,
	.argtypes = {INT4OID, INT4OID, TIMESTAMPTZOID}
};

/*
 * es.peek(queue, max_messages) → the first messages of the queue, with
 * their state (visible, in_flight, delayed), without claiming any: for an
 * operator's look, not for consumers (a peeked message may be claimed by
 * the time the caller acts on it).
 */
PG_FUNCTION_INFO_V1(es_peek);
Datum
es_peek(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = EsNameArg(fcinfo, 0, "queue name");
	int32		max_messages;
	EsQueue		q;
	Datum		args[3];

	max_messages = EsIntArg(fcinfo, 1, "max_messages", 1, es_max_read_count,
							"The upper limit is set by event_streaming.max_read_count.");
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	(void) EsLookupQueue(name, &q, false);

	args[0] = Int32GetDatum(q.id);
	args[1] = Int32GetDatum(max_messages);
	args[2] = TimestampTzGetDatum(GetCurrentTimestamp());
	SPI_connect();
	if (EsRun(&peek_plan, args, NULL, true, InvalidSnapshot, 0) != SPI_OK_SELECT)
		elog(ERROR, "queue peek failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[11];
		bool		nulls[11];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
