/*
 * claim.c
 *	  Deliveries of queue messages: es.dequeue, es.ack, es.nack, es.extend,
 *	  and the move to the dead-letter queue.
 *
 * These work on es.messages through the table and index access methods
 * instead of SQL.  A delivery is one tuple update that changes no indexed
 * column, so it is a HOT update: no index entries, no separate row lock, no
 * executor start-up.  Skipping a row another transaction holds is the
 * no-wait update, the same test FOR UPDATE SKIP LOCKED makes.
 *
 * Every look-up runs under the latest snapshot, taken after advancing the
 * command counter, and every change is made to the version that snapshot
 * found.  If that version was changed since (TM_Updated), ack, nack and
 * extend look again and re-check the receipt; dequeue skips the row.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "event_streaming.h"

/* Columns of es.messages. */
#define Natts_messages 13
#define Anum_messages_message_id 1
#define Anum_messages_queue_id 2
#define Anum_messages_available_at 3
#define Anum_messages_delivery_count 4
#define Anum_messages_leased_until 5
#define Anum_messages_receipt 6
#define Anum_messages_enqueued_at 7
#define Anum_messages_last_delivered_at 8
#define Anum_messages_consumer 9
#define Anum_messages_group_key 10
#define Anum_messages_last_error 11
#define Anum_messages_headers 12
#define Anum_messages_payload 13

/* Shorthands for a message's values and null flags, by attribute number. */
#define VAL(values, att) ((values)[(att) - 1])
#define ISNULL(nulls, att) ((nulls)[(att) - 1])

/*
 * A row another transaction was changing when we looked is looked at again
 * this long after, since its new state (a lease, a rollback) may need a
 * waiter to wake at a time nobody will signal.
 */
#define RECHECK_CONTENDED_US (20 * 1000)

/* Most messages one look moves to the dead-letter queue. */
#define MAX_DEAD_PER_LOOK 1000

/*
 * Where the live part of a queue's ready index began at this backend's last
 * look (see ClaimBatch).  One queue is remembered: a consumer usually serves
 * one.  from is a lower bound on the keys of index entries that may still
 * hold a live message, as long as no message is inserted with an
 * available_at more than HINT_MARGIN_US before it reads the clock (from is
 * never later than the look's time less that margin); a full look every
 * HINT_FULL_LOOK_US makes up for a clock step backwards.
 */
typedef struct ReadyHint
{
	int32		queue_id;
	TimestampTz from;			/* ready index key (available_at, message_id) */
	int64		from_id;
	TimestampTz full_look_at;
} ReadyHint;

static ReadyHint ready_hint = {0, 0, 0, 0};

#define HINT_MARGIN_US (USECS_PER_SEC)
#define HINT_FULL_LOOK_US (10 * USECS_PER_SEC)

#define DLQ_MAX_DELIVERIES "max_deliveries"
#define DLQ_REJECTED "rejected"

static EsPlan dead_letter_plan = {
	.sql = "INSERT INTO es.dead_letter_messages (queue_id, message_id, reason, delivery_count,"
	"    enqueued_at, last_delivered_at, dead_lettered_at, group_key, last_error,"
	"    headers, payload)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
	.nargs = 11,
	.argtypes = {INT4OID, INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID}
};

/* es.messages opened for reading and writing versions. */
typedef struct Messages
{
	Relation	rel;
	Relation	pkey;
	Relation	ready_idx;
	Relation	group_idx;
	EState	   *estate;			/* with rri: set up by the first non-HOT update */
	ResultRelInfo *rri;
	TupleTableSlot *slot;		/* the version found */
	TupleTableSlot *probe;		/* a second look-up during a scan */
	TupleTableSlot *newslot;	/* the version to write */
	CommandId	cid;
	Snapshot	snap;
} Messages;

/* A message to move to the dead-letter queue once the scan is over. */
typedef struct DeadLetter
{
	Datum		values[Natts_messages];
	bool		nulls[Natts_messages];
	const char *reason;
} DeadLetter;

/*
 * Open es.messages for changes made by the SQL function cmdname.  These
 * changes bypass the executor, so its read-only check is made here.
 */
static void
OpenMessages(Messages *m, const char *cmdname)
{
	PreventCommandIfReadOnly(cmdname);
	m->rel = table_open(EsRelationOid("messages"), RowExclusiveLock);
	if (RelationGetDescr(m->rel)->natts != Natts_messages)
		elog(ERROR, "es.messages has %d columns, expected %d",
			 RelationGetDescr(m->rel)->natts, Natts_messages);
	m->pkey = index_open(EsRelationOid("messages_pkey"), AccessShareLock);
	m->ready_idx = index_open(EsRelationOid("messages_ready_idx"), AccessShareLock);
	m->group_idx = index_open(EsRelationOid("messages_group_idx"), AccessShareLock);
	m->estate = NULL;
	m->rri = NULL;
	m->slot = table_slot_create(m->rel, NULL);
	m->probe = table_slot_create(m->rel, NULL);
	m->newslot = MakeSingleTupleTableSlot(RelationGetDescr(m->rel), &TTSOpsVirtual);
	m->snap = NULL;
}

static void
CloseMessages(Messages *m)
{
	ExecDropSingleTupleTableSlot(m->newslot);
	ExecDropSingleTupleTableSlot(m->probe);
	ExecDropSingleTupleTableSlot(m->slot);
	if (m->estate != NULL)
	{
		ExecCloseIndices(m->rri);
		FreeExecutorState(m->estate);
	}
	index_close(m->group_idx, AccessShareLock);
	index_close(m->ready_idx, AccessShareLock);
	index_close(m->pkey, AccessShareLock);
	table_close(m->rel, NoLock);
}

/*
 * Start a look: advance the command counter so that this transaction's
 * earlier changes are seen, and take the latest snapshot.  Held until
 * EndLook.
 */
static void
BeginLook(Messages *m)
{
	CommandCounterIncrement();
	m->cid = GetCurrentCommandId(true);
	m->snap = RegisterSnapshot(GetLatestSnapshot());
}

static void
EndLook(Messages *m)
{
	UnregisterSnapshot(m->snap);
	m->snap = NULL;
}

/* Find a message by id; its version is left in m->slot, attributes deformed. */
static bool
FetchMessage(Messages *m, int64 message_id)
{
	ScanKeyData key;
	IndexScanDesc scan;
	bool		found;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(message_id));
	scan = EsIndexBeginScan(m->rel, m->pkey, m->snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, m->slot);
	index_endscan(scan);
	if (found)
		slot_getallattrs(m->slot);
	return found;
}

/*
 * Add index entries for a version written by a non-HOT update (the page had
 * no room).  The executor state for that is set up on first use: most
 * calls never need it.
 */
static void
InsertIndexEntries(Messages *m, bool summarizing_only)
{
	if (m->estate == NULL)
	{
		m->estate = CreateExecutorState();
		m->rri = makeNode(ResultRelInfo);
		InitResultRelInfo(m->rri, m->rel, 0, NULL, 0);
		ExecOpenIndices(m->rri, false);
	}
	m->estate->es_output_cid = m->cid;
	EsExecInsertIndexTuples(m->rri, m->newslot, m->estate, summarizing_only);
	ResetPerTupleExprContext(m->estate);
}

/*
 * Replace the version in m->slot by values/nulls.  With wait false a row
 * another transaction is changing or has locked is not waited for
 * (TM_BeingModified).  Index entries are added only when the update could
 * not be HOT.
 */
static TM_Result
WriteVersion(Messages *m, Datum *values, bool *nulls, bool wait)
{
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	TM_Result	res;
	EsUpdateIndexes update_indexes;

	ExecClearTuple(m->newslot);
	memcpy(m->newslot->tts_values, values, sizeof(Datum) * Natts_messages);
	memcpy(m->newslot->tts_isnull, nulls, sizeof(bool) * Natts_messages);
	ExecStoreVirtualTuple(m->newslot);
	ExecMaterializeSlot(m->newslot);

	res = EsTableTupleUpdate(m->rel, &m->slot->tts_tid, m->newslot, m->cid, m->snap,
							 wait, &tmfd, &lockmode, &update_indexes);
	if (res == TM_Ok && EsUpdateNeedsIndexes(update_indexes))
		InsertIndexEntries(m, EsUpdateSummarizingOnly(update_indexes));
	return res;
}

/* Delete the version in m->slot; wait as in WriteVersion. */
static TM_Result
DeleteVersion(Messages *m, bool wait)
{
	TM_FailureData tmfd;

	return EsTableTupleDelete(m->rel, &m->slot->tts_tid, m->cid, m->snap, wait, &tmfd);
}

/* Copy the deformed version in m->slot into values/nulls. */
static void
CopyVersion(Messages *m, Datum *values, bool *nulls)
{
	memcpy(values, m->slot->tts_values, sizeof(Datum) * Natts_messages);
	memcpy(nulls, m->slot->tts_isnull, sizeof(bool) * Natts_messages);
}

/*
 * Keep a message's values for the dead-letter queue.  They are copied out of
 * the buffer (and out of TOAST), because the insert comes after the scan.
 */
static void
KeepDeadLetter(DeadLetter *dl, const Datum *values, const bool *nulls, const char *reason)
{
	static const AttrNumber varlena_atts[] = {Anum_messages_consumer, Anum_messages_group_key,
	Anum_messages_last_error, Anum_messages_headers, Anum_messages_payload};

	memcpy(dl->values, values, sizeof(dl->values));
	memcpy(dl->nulls, nulls, sizeof(dl->nulls));
	for (int i = 0; i < (int) lengthof(varlena_atts); i++)
	{
		AttrNumber	att = varlena_atts[i];

		if (!ISNULL(nulls, att))
			VAL(dl->values, att) =
				PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(VAL(values, att))));
	}
	dl->reason = reason;
}

/*
 * Record a message that has just been deleted from es.messages in the
 * dead-letter queue, with its history.
 */
static void
InsertDeadLetter(Datum *values, bool *nulls, const char *reason, TimestampTz now)
{
	Datum		args[11];
	char		argnulls[11];
	static const AttrNumber from[] = {Anum_messages_queue_id, Anum_messages_message_id, 0,
		Anum_messages_delivery_count, Anum_messages_enqueued_at,
		Anum_messages_last_delivered_at, 0, Anum_messages_group_key,
		Anum_messages_last_error, Anum_messages_headers, Anum_messages_payload};
	int			rc;

	for (int i = 0; i < 11; i++)
	{
		if (from[i] == 0)
			continue;
		args[i] = VAL(values, from[i]);
		argnulls[i] = ISNULL(nulls, from[i]) ? 'n' : ' ';
	}
	args[2] = CStringGetTextDatum(reason);
	argnulls[2] = ' ';
	args[6] = TimestampTzGetDatum(now);
	argnulls[6] = ' ';

	SPI_connect();
	rc = EsRun(&dead_letter_plan, args, argnulls, false, InvalidSnapshot, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "dead-letter insert failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	EsCountQueue(DatumGetInt32(VAL(values, Anum_messages_queue_id)), ES_COUNT_DEAD_LETTERED, 1);
}

/*
 * Whether message_id is the head (lowest id) of its group: only the head of
 * a group may be delivered, so at most one message of a group is in flight
 * and the group is delivered in order.
 */
static bool
IsGroupHead(Messages *m, int32 queue_id, Datum group_key, int64 message_id)
{
	ScanKeyData keys[2];
	IndexScanDesc scan;
	bool		head = false;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(queue_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, group_key);
	keys[1].sk_collation = m->group_idx->rd_indcollation[1];
	scan = EsIndexBeginScan(m->rel, m->group_idx, m->snap, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, m->probe))
	{
		bool		isnull;

		head = DatumGetInt64(slot_getattr(m->probe, Anum_messages_message_id, &isnull)) == message_id;
	}
	index_endscan(scan);
	ExecClearTuple(m->probe);
	return head;
}

/*
 * How long after its lease ended (or its nack) a message that was delivered
 * deliveries times waits before its next delivery: retry_delay doubled at
 * each delivery, at most retry_delay_max; 0 without backoff.
 */
static int64
Backoff(const EsQueue *q, int32 deliveries)
{
	int64		delay = q->retry_delay;

	if (delay == 0)
		return 0;
	for (int i = 1; i < deliveries && delay < q->retry_delay_max; i++)
		delay *= 2;
	return Min(delay, q->retry_delay_max);
}

/* What a look found a message to be. */
typedef enum MessageState
{
	MSG_READY,					/* deliverable now */
	MSG_HIDDEN,					/* leased, or backing off, until *until */
	MSG_BLOCKED,				/* behind its group's head */
	MSG_SPENT					/* deliveries used up: to the dead-letter queue */
} MessageState;

/*
 * Classify a message whose available_at has passed.  A lease hides it until
 * the lease ends, and then for the queue's backoff unless its deliveries
 * are used up.
 */
static MessageState
Classify(Messages *m, const EsQueue *q, const Datum *values, const bool *nulls,
		 TimestampTz now, TimestampTz *until)
{
	int32		deliveries = DatumGetInt32(VAL(values, Anum_messages_delivery_count));

	if (!ISNULL(nulls, Anum_messages_leased_until))
	{
		TimestampTz lease = DatumGetTimestampTz(VAL(values, Anum_messages_leased_until));

		if (deliveries < q->max_deliveries)
			lease += Backoff(q, deliveries);
		if (lease > now)
		{
			*until = lease;
			return MSG_HIDDEN;
		}
	}
	if (!ISNULL(nulls, Anum_messages_group_key) &&
		!IsGroupHead(m, q->id, VAL(values, Anum_messages_group_key),
					 DatumGetInt64(VAL(values, Anum_messages_message_id))))
		return MSG_BLOCKED;
	if (deliveries >= q->max_deliveries)
		return MSG_SPENT;
	return MSG_READY;
}

/* When the first message that is not available yet becomes available. */
static TimestampTz
NextAvailable(Messages *m, int32 queue_id, TimestampTz now)
{
	ScanKeyData keys[2];
	IndexScanDesc scan;
	TimestampTz next = DT_NOEND;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(queue_id));
	ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(now));
	scan = EsIndexBeginScan(m->rel, m->ready_idx, m->snap, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, m->probe))
	{
		bool		isnull;

		next = DatumGetTimestampTz(slot_getattr(m->probe, Anum_messages_available_at, &isnull));
	}
	index_endscan(scan);
	ExecClearTuple(m->probe);
	return next;
}

/* A varlena value to hand out of the function: inline, not a TOAST pointer. */
static Datum
Detoasted(Datum d)
{
	return PointerGetDatum(pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d)));
}

/* What one dequeue call asks for. */
typedef struct ClaimRequest
{
	EsQueue		queue;
	Datum		consumer;		/* text */
	int64		visibility_timeout; /* microseconds */
	int			max_messages;
} ClaimRequest;

/*
 * One look at the queue: claim up to max_messages visible messages, oldest
 * available first, into the result set; move the visible ones that have
 * used up their deliveries to the dead-letter queue (*ndead of them).
 * Returns the number claimed.  When none was, *next_visible is when the
 * queue may next have a visible message (an unavailable message's time, a
 * lease's end, a re-check of a row that was being changed).
 *
 * Acks leave dead entries at the head of the ready index until VACUUM
 * removes them, and every look would step over all of them.  So the look
 * remembers where the first entry that is not dead to everyone was: all
 * entries before it are dead for good, and new entries come after it (an
 * enqueue's available_at is the clock when it inserts, a redelivery keeps
 * its entry).  The next look starts there, or at the look's time less a
 * margin if that is earlier.
 */
static int
ClaimBatch(Messages *m, const ClaimRequest *req, ReturnSetInfo *rsinfo,
		   TimestampTz *next_visible, int *ndead)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz lease_end = now + req->visibility_timeout;
	ScanKeyData keys[3];
	ScanKeyData from_key[2];
	int			nkeys = 2;
	IndexScanDesc scan;
	List	   *dead = NIL;
	ListCell   *lc;
	int			claimed = 0;
	bool		full_look;
	bool		in_dead_prefix = true;
	TimestampTz live_from = now - HINT_MARGIN_US;
	int64		live_from_id = 0;

	*next_visible = DT_NOEND;
	BeginLook(m);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(req->queue.id));
	ScanKeyInit(&keys[1], 2, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(now));
	full_look = ready_hint.queue_id != req->queue.id ||
		now - ready_hint.full_look_at >= HINT_FULL_LOOK_US || now < ready_hint.full_look_at;
	if (!full_look)
	{
		/* (available_at, message_id) >= the hint, as a row comparison */
		ScanKeyEntryInitialize(&from_key[0], SK_ROW_MEMBER, 2, BTGreaterEqualStrategyNumber,
							   InvalidOid, InvalidOid, F_TIMESTAMPTZ_GE,
							   TimestampTzGetDatum(ready_hint.from));
		ScanKeyEntryInitialize(&from_key[1], SK_ROW_MEMBER | SK_ROW_END, 3,
							   BTGreaterEqualStrategyNumber, InvalidOid, InvalidOid,
							   F_INT8GE, Int64GetDatum(ready_hint.from_id));
		ScanKeyEntryInitialize(&keys[nkeys++], SK_ROW_HEADER, 2, BTGreaterEqualStrategyNumber,
							   InvalidOid, InvalidOid, InvalidOid, PointerGetDatum(from_key));
	}
	scan = EsIndexBeginScan(m->rel, m->ready_idx, m->snap, nkeys, 0);
	scan->xs_want_itup = true;	/* to learn the keys of the entries */
	index_rescan(scan, keys, nkeys, NULL, 0);
	while (claimed < req->max_messages && list_length(dead) < MAX_DEAD_PER_LOOK &&
		   index_getnext_tid(scan, ForwardScanDirection) != NULL)
	{
		Datum		values[Natts_messages];
		bool		nulls[Natts_messages];
		int32		deliveries;
		MessageState state;
		TimestampTz until;
		pg_uuid_t  *receipt;
		Datum		out[8];
		bool		outnulls[8];
		bool		found = index_fetch_heap(scan, m->slot);

		/* kill_prior_tuple: no version of this entry is visible to anyone */
		if (in_dead_prefix && (found || !scan->kill_prior_tuple))
		{
			bool		isnull;
			TimestampTz at = DatumGetTimestampTz(index_getattr(scan->xs_itup, 2,
															   scan->xs_itupdesc, &isnull));

			in_dead_prefix = false;
			if (at < live_from)
			{
				live_from = at;
				live_from_id = DatumGetInt64(index_getattr(scan->xs_itup, 3,
														   scan->xs_itupdesc, &isnull));
			}
		}
		if (!found)
			continue;

		slot_getallattrs(m->slot);
		CopyVersion(m, values, nulls);
		state = Classify(m, &req->queue, values, nulls, now, &until);
		if (state == MSG_HIDDEN)
			*next_visible = Min(*next_visible, until);
		if (state == MSG_HIDDEN || state == MSG_BLOCKED)
			continue;

		deliveries = DatumGetInt32(VAL(values, Anum_messages_delivery_count));
		if (state == MSG_SPENT)
		{
			/* Its last lease expired: it goes to the dead-letter queue. */
			if (DeleteVersion(m, false) == TM_Ok)
			{
				DeadLetter *dl = palloc(sizeof(DeadLetter));

				KeepDeadLetter(dl, values, nulls, DLQ_MAX_DELIVERIES);
				dead = lappend(dead, dl);
			}
			else
				*next_visible = Min(*next_visible, now + RECHECK_CONTENDED_US);
			continue;
		}

		receipt = palloc(sizeof(pg_uuid_t));
		EsNewReceipt(receipt);
		VAL(values, Anum_messages_delivery_count) = Int32GetDatum(deliveries + 1);
		VAL(values, Anum_messages_leased_until) = TimestampTzGetDatum(lease_end);
		ISNULL(nulls, Anum_messages_leased_until) = false;
		VAL(values, Anum_messages_receipt) = UUIDPGetDatum(receipt);
		ISNULL(nulls, Anum_messages_receipt) = false;
		VAL(values, Anum_messages_last_delivered_at) = TimestampTzGetDatum(now);
		ISNULL(nulls, Anum_messages_last_delivered_at) = false;
		VAL(values, Anum_messages_consumer) = req->consumer;
		ISNULL(nulls, Anum_messages_consumer) = false;
		if (WriteVersion(m, values, nulls, false) != TM_Ok)
		{
			/* Another transaction holds it or changed it: skip. */
			*next_visible = Min(*next_visible, now + RECHECK_CONTENDED_US);
			continue;
		}

		out[0] = VAL(values, Anum_messages_message_id);
		out[1] = UUIDPGetDatum(receipt);
		out[2] = Detoasted(VAL(values, Anum_messages_payload));
		out[3] = ISNULL(nulls, Anum_messages_headers) ? (Datum) 0 :
			Detoasted(VAL(values, Anum_messages_headers));
		out[4] = Int32GetDatum(deliveries + 1);
		out[5] = VAL(values, Anum_messages_enqueued_at);
		out[6] = TimestampTzGetDatum(lease_end);
		out[7] = VAL(values, Anum_messages_group_key);
		memset(outnulls, false, sizeof(outnulls));
		outnulls[3] = ISNULL(nulls, Anum_messages_headers);
		outnulls[7] = ISNULL(nulls, Anum_messages_group_key);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnulls);
		claimed++;
	}
	index_endscan(scan);
	ExecClearTuple(m->slot);
	ready_hint.queue_id = req->queue.id;
	ready_hint.from = live_from;
	ready_hint.from_id = live_from_id;
	if (full_look)
		ready_hint.full_look_at = now;

	if (claimed == 0)
		*next_visible = Min(*next_visible, NextAvailable(m, req->queue.id, now));
	EndLook(m);

	foreach(lc, dead)
	{
		DeadLetter *dl = lfirst(lc);

		InsertDeadLetter(dl->values, dl->nulls, dl->reason, now);
	}
	*ndead = list_length(dead);
	return claimed;
}

/*
 * The redelivery pass over one queue (es.sweep_redelivery and the worker):
 * look at up to max_rows messages at the head of the queue, where leases
 * are (deliveries go oldest first), and move those whose last lease ended
 * to the dead-letter queue, as a dequeue would (at most MAX_DEAD_PER_LOOK,
 * the rest at the next pass).  Returns how many were
 * moved.  If a message is deliverable, consumers waiting on the queue are
 * woken at commit: a lease or a backoff may have just ended, which no
 * commit signals.
 */
int64
EsRedeliverQueue(const EsQueue *q, TimestampTz now, int64 max_rows)
{
	Messages	m;
	ScanKeyData keys[2];
	IndexScanDesc scan;
	List	   *dead = NIL;
	ListCell   *lc;
	int64		looked = 0;
	bool		ready = false;

	OpenMessages(&m, "es.sweep_redelivery()");
	BeginLook(&m);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(q->id));
	ScanKeyInit(&keys[1], 2, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(now));
	scan = EsIndexBeginScan(m.rel, m.ready_idx, m.snap, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	while (looked < max_rows && list_length(dead) < MAX_DEAD_PER_LOOK &&
		   index_getnext_slot(scan, ForwardScanDirection, m.slot))
	{
		Datum		values[Natts_messages];
		bool		nulls[Natts_messages];
		TimestampTz until;

		looked++;
		slot_getallattrs(m.slot);
		CopyVersion(&m, values, nulls);
		switch (Classify(&m, q, values, nulls, now, &until))
		{
			case MSG_READY:
				ready = true;
				break;
			case MSG_SPENT:
				/* A row another transaction holds is left for the next pass. */
				if (DeleteVersion(&m, false) == TM_Ok)
				{
					DeadLetter *dl = palloc(sizeof(DeadLetter));

					KeepDeadLetter(dl, values, nulls, DLQ_MAX_DELIVERIES);
					dead = lappend(dead, dl);
				}
				break;
			case MSG_HIDDEN:
			case MSG_BLOCKED:
				break;
		}
	}
	index_endscan(scan);
	ExecClearTuple(m.slot);
	EndLook(&m);
	CloseMessages(&m);

	foreach(lc, dead)
	{
		DeadLetter *dl = lfirst(lc);

		InsertDeadLetter(dl->values, dl->nulls, dl->reason, now);
	}
	/* A dead-lettered group head lets the group's next message go. */
	if (ready || dead != NIL)
		EsQueueChanged(q->id);
	return list_length(dead);
}

/*
 * Stop holding back VACUUM while sleeping.  In READ COMMITTED, with no
 * transaction id yet and no snapshot older than the calling statement's
 * (an open cursor, an outer statement), nothing this transaction reads later
 * needs the rows VACUUM could remove meanwhile: every look takes a new
 * snapshot, which advertises a new xmin.  The calling statement's own
 * snapshot is not protected during the wait; README says to call
 * es.dequeue as a statement of its own.  Otherwise the horizon stays.
 *
 * An older snapshot is told by the xmin this backend advertises: the server
 * moves it forward only when no snapshot is active, to the oldest registered
 * one, and a new snapshot sets it only when none is advertised.  So while
 * the calling statement runs, an advertised xmin older than its snapshot's
 * means a snapshot taken before it may still be in use (or was, until
 * recently: then the horizon is kept when it could have gone, which is
 * safe).  This needs no list of the registered snapshots, which no server
 * exports since 18 removed GetOldestSnapshot.
 */
static void
ReleaseXmin(void)
{
	if (IsolationUsesXactSnapshot() || TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	if (!ActiveSnapshotSet() ||
		TransactionIdPrecedes(MyProc->xmin, GetActiveSnapshot()->xmin))
		return;
	InvalidateCatalogSnapshot();
	MyProc->xmin = InvalidTransactionId;
}

/*
 * es.dequeue(queue, consumer, visibility_timeout, max_messages, wait)
 *		→ the messages claimed: id, receipt, payload, headers, delivery
 *		count, enqueue time, end of the lease, group key.
 *
 * With a wait, sleeps on the latch until a transaction that made a message
 * of the queue visible commits, or until the next message becomes visible
 * by time (a delay or a lease ending), or the wait is over.  It never
 * sleeps on dead-letter moves of its own: those hold row locks and an xid
 * until commit, so it returns (with no rows) to let the caller commit them.
 */
PG_FUNCTION_INFO_V1(es_dequeue);
Datum
es_dequeue(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	ClaimRequest req;
	int64		wait;
	TimestampTz deadline;
	Messages	m;
	bool		had_xid = TransactionIdIsValid(GetTopTransactionIdIfAny());
	int			claimed = 0;

	name = EsNameArg(fcinfo, 0, "queue name");
	(void) EsNameArg(fcinfo, 1, "consumer name");
	req.consumer = PG_GETARG_DATUM(1);
	if (!PG_ARGISNULL(2))
		req.visibility_timeout = EsIntervalArg(fcinfo, 2, "visibility timeout", false,
											   ES_MAX_VISIBILITY_TIMEOUT, "12 hours");
	req.max_messages = EsIntArg(fcinfo, 3, "max_messages", 1, es_max_batch_size,
								"The upper limit is set by event_streaming.max_batch_size.");
	wait = EsIntervalArg(fcinfo, 4, "wait", true, ES_MAX_WAIT, "1 hour");

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	(void) EsLookupQueue(name, &req.queue, false);
	if (PG_ARGISNULL(2))
		req.visibility_timeout = req.queue.visibility_timeout;
	deadline = GetCurrentTimestamp() + wait;

	OpenMessages(&m, "es.dequeue()");
	if (wait > 0)
		EsQueueWaitBegin(req.queue.id);
	PG_TRY();
	{
		for (;;)
		{
			TimestampTz next;
			TimestampTz now;
			long		timeout_ms;
			int			ndead;

			if (wait > 0)
				ResetLatch(MyLatch);
			claimed = ClaimBatch(&m, &req, rsinfo, &next, &ndead);
			if (claimed > 0 || wait == 0)
				break;
			if (ndead > 0)
				continue;		/* a dead-lettered group head frees the next */
			if (!had_xid && TransactionIdIsValid(GetTopTransactionIdIfAny()))
				break;
			now = GetCurrentTimestamp();
			if (now >= deadline)
				break;
			timeout_ms = (long) ((Min(deadline, next) - now + 999) / 1000);
			ReleaseXmin();
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Max(timeout_ms, 1), EsWaitEvent(ES_WAIT_DEQUEUE));
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		EsQueueWaitEnd();
	}
	PG_END_TRY();
	CloseMessages(&m);
	EsCountQueue(req.queue.id, ES_COUNT_DELIVERED, claimed);

	return (Datum) 0;
}

/* What ack, nack and extend do to the current delivery. */
typedef enum SettleKind
{
	SETTLE_ACK,
	SETTLE_NACK,
	SETTLE_EXTEND
} SettleKind;

typedef struct SettleRequest
{
	SettleKind	kind;
	bool		requeue;		/* nack */
	int64		delay;			/* nack, microseconds */
	Datum		error;			/* nack, text or 0 */
	int64		visibility_timeout; /* extend, microseconds */
} SettleRequest;

/*
 * Find the delivery whose receipt this is, and act on it.  False when the
 * message is gone, belongs to another queue, or is in another delivery
 * (the receipt is stale or forged): nothing is changed then.
 */
static bool
Settle(FunctionCallInfo fcinfo, const SettleRequest *req)
{
	char	   *name;
	int64		message_id;
	pg_uuid_t  *receipt;
	EsQueue		q;
	Messages	m;
	bool		done = false;
	bool		wake = false;
	DeadLetter	dl;
	bool		dead = false;
	TimestampTz now = 0;

	name = EsNameArg(fcinfo, 0, "queue name");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message id must not be null")));
	message_id = PG_GETARG_INT64(1);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("receipt must not be null"),
				 errhint("Use the receipt es.dequeue returned with the message.")));
	receipt = PG_GETARG_UUID_P(2);
	(void) EsLookupQueue(name, &q, false);

	OpenMessages(&m, req->kind == SETTLE_ACK ? "es.ack()" :
				 req->kind == SETTLE_NACK ? "es.nack()" : "es.extend()");
	for (;;)
	{
		Datum		values[Natts_messages];
		bool		nulls[Natts_messages];
		TM_Result	res;
		int64		delay;

		BeginLook(&m);
		now = GetCurrentTimestamp();
		if (!FetchMessage(&m, message_id) ||
			DatumGetInt32(m.slot->tts_values[Anum_messages_queue_id - 1]) != q.id ||
			m.slot->tts_isnull[Anum_messages_receipt - 1] ||
			memcmp(DatumGetUUIDP(m.slot->tts_values[Anum_messages_receipt - 1]),
				   receipt, UUID_LEN) != 0)
		{
			EndLook(&m);
			break;
		}
		CopyVersion(&m, values, nulls);
		if (req->kind == SETTLE_NACK && req->error != 0)
		{
			VAL(values, Anum_messages_last_error) = req->error;
			ISNULL(nulls, Anum_messages_last_error) = false;
		}

		if (req->kind == SETTLE_ACK ||
			(req->kind == SETTLE_NACK &&
			 (!req->requeue ||
			  DatumGetInt32(VAL(values, Anum_messages_delivery_count)) >= q.max_deliveries)))
		{
			res = DeleteVersion(&m, true);
			if (res == TM_Ok && req->kind == SETTLE_NACK)
			{
				KeepDeadLetter(&dl, values, nulls,
							   req->requeue ? DLQ_MAX_DELIVERIES : DLQ_REJECTED);
				dead = true;
			}
		}
		else if (req->kind == SETTLE_NACK)
		{
			ISNULL(nulls, Anum_messages_leased_until) = true;
			ISNULL(nulls, Anum_messages_receipt) = true;
			ISNULL(nulls, Anum_messages_consumer) = true;
			delay = req->delay > 0 ? req->delay :
				Backoff(&q, DatumGetInt32(VAL(values, Anum_messages_delivery_count)));
			if (delay > 0)
				VAL(values, Anum_messages_available_at) = TimestampTzGetDatum(now + delay);
			res = WriteVersion(&m, values, nulls, true);
		}
		else
		{
			VAL(values, Anum_messages_leased_until) =
				TimestampTzGetDatum(now + req->visibility_timeout);
			res = WriteVersion(&m, values, nulls, true);
		}
		/* The message of a group that follows this one may be deliverable now. */
		wake = req->kind == SETTLE_NACK || !ISNULL(nulls, Anum_messages_group_key);
		EndLook(&m);

		if (res == TM_Ok)
		{
			done = true;
			break;
		}
		if (res != TM_Updated)
			break;
		/* Changed since we looked (say, extended): look again. */
	}
	ExecClearTuple(m.slot);
	CloseMessages(&m);

	if (dead)
		InsertDeadLetter(dl.values, dl.nulls, dl.reason, now);
	else if (done && req->kind != SETTLE_EXTEND)
		EsCountQueue(q.id, req->kind == SETTLE_ACK ? ES_COUNT_ACKED : ES_COUNT_NACKED, 1);
	if (done && wake)
		EsQueueChanged(q.id);
	return done;
}

/*
 * es.ack(queue, message_id, receipt) → true if the message was removed.
 * Only the current delivery's receipt acks; after a lease expired and the
 * message went to another consumer, the first consumer's ack returns false.
 */
PG_FUNCTION_INFO_V1(es_ack);
Datum
es_ack(PG_FUNCTION_ARGS)
{
	SettleRequest req = {.kind = SETTLE_ACK};

	PG_RETURN_BOOL(Settle(fcinfo, &req));
}

/*
 * es.nack(queue, message_id, receipt, requeue, delay, error) → true if the
 * delivery was given up: back to the queue (after delay), or to the
 * dead-letter queue when requeue is false or its deliveries are used up.
 */
PG_FUNCTION_INFO_V1(es_nack);
Datum
es_nack(PG_FUNCTION_ARGS)
{
	SettleRequest req = {.kind = SETTLE_NACK};

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("requeue must not be null")));
	req.requeue = PG_GETARG_BOOL(3);
	req.delay = EsIntervalArg(fcinfo, 4, "delay", true, ES_MAX_DELAY, "7 days");
	req.error = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	if (req.error != 0)
		EsCheckPayloadSize(req.error, "error text");
	PG_RETURN_BOOL(Settle(fcinfo, &req));
}

/*
 * es.extend(queue, message_id, receipt, visibility_timeout) → true if the
 * lease now ends visibility_timeout from now.  A heartbeat for long work.
 */
PG_FUNCTION_INFO_V1(es_extend);
Datum
es_extend(PG_FUNCTION_ARGS)
{
	SettleRequest req = {.kind = SETTLE_EXTEND};

	req.visibility_timeout = EsIntervalArg(fcinfo, 3, "visibility timeout", false,
										   ES_MAX_VISIBILITY_TIMEOUT, "12 hours");
	PG_RETURN_BOOL(Settle(fcinfo, &req));
}
