/*
 * metrics.c
 *	  Counters of what committed transactions did, read by the es.metrics
 *	  view: events appended per category, and per queue the messages
 *	  enqueued, delivered, acked, requeued by nack and dead-lettered.
 *
 * A transaction counts in its own memory, by subtransaction level, and adds
 * its counts to shared memory when it commits or prepares.  So a transaction
 * or savepoint rolled back counts nothing, and the hot paths touch shared
 * memory once per commit and object, not once per call.
 *
 * The shared counters live in a hash table of fixed size
 * (event_streaming.metrics_max_objects entries), by database and object.
 * They count from the server's start: a restart starts them at zero again,
 * which Prometheus's rate() and increase() read as a counter reset.  Entries
 * are never removed, so a reader may use one without the lock once found.
 * When the table is full, the counts of objects that have no entry yet go
 * to a per-server "dropped" counter, which es.metrics shows.
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "event_streaming.h"

/* The names es.metrics gives the counters, by EsCounter. */
static const char *const counter_names[ES_NCOUNTERS] = {
	[ES_COUNT_APPENDED] = "events_appended_total",
	[ES_COUNT_ENQUEUED] = "enqueued_total",
	[ES_COUNT_DELIVERED] = "delivered_total",
	[ES_COUNT_ACKED] = "acked_total",
	[ES_COUNT_NACKED] = "nacked_total",
	[ES_COUNT_DEAD_LETTERED] = "dead_lettered_total",
};

/* An object counted: a category (queue_id 0) or a queue (category ""). */
typedef struct EsMetricKey
{
	Oid			dbid;
	int32		queue_id;
	char		category[ES_MAX_NAME_BYTES + 1];
} EsMetricKey;

typedef struct EsMetricEntry
{
	EsMetricKey key;
	pg_atomic_uint64 count[ES_NCOUNTERS];
} EsMetricEntry;

typedef struct EsMetricsShared
{
	LWLock	   *lock;			/* shared to look up, exclusive to add entries */
	pg_atomic_uint64 dropped;	/* counts of objects that found no room */
} EsMetricsShared;

/* This transaction's counts for one object at one subtransaction level. */
typedef struct EsPendingKey
{
	EsMetricKey object;
	int			level;
} EsPendingKey;

typedef struct EsPending
{
	EsPendingKey key;
	int64		count[ES_NCOUNTERS];
} EsPending;

static EsMetricsShared *metrics_shared = NULL;
static HTAB *metrics_hash = NULL;
static HTAB *pending = NULL;	/* in TopMemoryContext, emptied at each end */
static bool pending_any = false;

/* The shared state: the dropped counter and the table of counters. */
Size
EsMetricsShmemSize(void)
{
	return add_size(MAXALIGN(sizeof(EsMetricsShared)),
					hash_estimate_size(es_metrics_max_objects, sizeof(EsMetricEntry)));
}

/*
 * Called with AddinShmemInitLock held, from shmem.c's start-up hook;
 * shmem.c's request hook asks for the space and the lock.
 */
void
EsMetricsShmemStartup(void)
{
	HASHCTL		info;
	bool		found;

	metrics_shared = ShmemInitStruct("event_streaming metrics", sizeof(EsMetricsShared), &found);
	if (!found)
	{
		metrics_shared->lock = &(GetNamedLWLockTranche("event_streaming metrics"))->lock;
		pg_atomic_init_u64(&metrics_shared->dropped, 0);
	}
	info.keysize = sizeof(EsMetricKey);
	info.entrysize = sizeof(EsMetricEntry);
	metrics_hash = EsShmemInitHash("event_streaming metrics by object", es_metrics_max_objects,
								   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* Add this transaction's counts to the shared ones. */
static void
Publish(void)
{
	HASH_SEQ_STATUS seq;
	EsPending  *p;

	hash_seq_init(&seq, pending);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		EsMetricEntry *e;
		bool		found;

		LWLockAcquire(metrics_shared->lock, LW_SHARED);
		e = hash_search(metrics_hash, &p->key.object, HASH_FIND, NULL);
		LWLockRelease(metrics_shared->lock);
		if (e == NULL)
		{
			LWLockAcquire(metrics_shared->lock, LW_EXCLUSIVE);
			e = hash_search(metrics_hash, &p->key.object, HASH_ENTER_NULL, &found);
			if (e != NULL && !found)
				for (int i = 0; i < ES_NCOUNTERS; i++)
					pg_atomic_init_u64(&e->count[i], 0);
			LWLockRelease(metrics_shared->lock);
		}
		for (int i = 0; i < ES_NCOUNTERS; i++)
		{
			if (p->count[i] == 0)
				continue;
			if (e != NULL)
				pg_atomic_fetch_add_u64(&e->count[i], p->count[i]);
			else
				pg_atomic_fetch_add_u64(&metrics_shared->dropped, p->count[i]);
		}
	}
}

/* Forget every pending count. */
static void
Clear(void)
{
	HASH_SEQ_STATUS seq;
	EsPending  *p;

	hash_seq_init(&seq, pending);
	while ((p = hash_seq_search(&seq)) != NULL)
		(void) hash_search(pending, &p->key, HASH_REMOVE, NULL);
	pending_any = false;
}

/*
 * A transaction's counts go to shared memory when it commits, or when it
 * prepares: a prepared transaction counts then, even if it is rolled back
 * later (its counts would have to be kept with its two-phase state).
 */
static void
MetricsXactCallback(XactEvent event, void *arg)
{
	if (!pending_any)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			Publish();			/* raises no error: the commit is done */
			Clear();
			break;
		case XACT_EVENT_ABORT:
			Clear();
			break;
		default:
			break;
	}
}

/*
 * At the end of a subtransaction, its counts go to its parent (committed)
 * or away (rolled back).  Entries are moved after the scan: dynahash allows
 * removing the current entry during a scan, not inserting.
 */
static void
MetricsSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	HASH_SEQ_STATUS seq;
	EsPending  *p;
	List	   *moved = NIL;
	ListCell   *lc;

	if (!pending_any || (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB))
		return;
	hash_seq_init(&seq, pending);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (p->key.level < level)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			EsPending  *copy = palloc(sizeof(EsPending));

			memcpy(copy, p, sizeof(EsPending));
			moved = lappend(moved, copy);
		}
		(void) hash_search(pending, &p->key, HASH_REMOVE, NULL);
	}
	foreach(lc, moved)
	{
		EsPending  *from = lfirst(lc);
		EsPending  *to;
		bool		found;

		from->key.level = level - 1;
		to = hash_search(pending, &from->key, HASH_ENTER, &found);
		for (int i = 0; i < ES_NCOUNTERS; i++)
			to->count[i] = (found ? to->count[i] : 0) + from->count[i];
	}
	list_free_deep(moved);
}

/* Count n of counter c for a category or a queue, at this transaction's commit. */
static void
Count(int32 queue_id, const char *category, int category_len, EsCounter c, int64 n)
{
	EsPendingKey key;
	EsPending  *p;
	bool		found;

	if (metrics_shared == NULL || n <= 0)
		return;
	if (pending == NULL)
	{
		HASHCTL		info;

		info.keysize = sizeof(EsPendingKey);
		info.entrysize = sizeof(EsPending);
		info.hcxt = TopMemoryContext;
		pending = hash_create("event_streaming pending metrics", 16, &info,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.object.dbid = MyDatabaseId;
	key.object.queue_id = queue_id;
	memcpy(key.object.category, category, Min(category_len, ES_MAX_NAME_BYTES));
	key.level = GetCurrentTransactionNestLevel();
	p = hash_search(pending, &key, HASH_ENTER, &found);
	if (!found)
		memset(p->count, 0, sizeof(p->count));
	p->count[c] += n;
	pending_any = true;
}

/* n events appended to a stream of category, the first len bytes of its name. */
void
EsCountAppended(const char *category, int len, int64 n)
{
	Count(0, category, len, ES_COUNT_APPENDED, n);
}

/* n messages of queue queue_id went through counter c. */
void
EsCountQueue(int32 queue_id, EsCounter c, int64 n)
{
	Count(queue_id, "", 0, c, n);
}

/* Count at the ends of transactions (only with the library preloaded). */
void
EsMetricsInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	RegisterXactCallback(MetricsXactCallback, NULL);
	RegisterSubXactCallback(MetricsSubXactCallback, NULL);
}

/*
 * The wait event to report while sleeping at w: named on servers that let
 * an extension name its waits (17 and later), "Extension" before.  The
 * name is registered on first use, once per backend.
 */
uint32
EsWaitEvent(EsWait w)
{
	static const char *const names[ES_NWAITS] = {
		[ES_WAIT_DEQUEUE] = "EventStreamingDequeue",
		[ES_WAIT_WORKER_NAP] = "EventStreamingWorkerNap",
		[ES_WAIT_SWEEP_DELAY] = "EventStreamingSweepDelay",
		[ES_WAIT_LAUNCHER_NAP] = "EventStreamingLauncherNap",
	};
	static uint32 ids[ES_NWAITS];

	if (ids[w] == 0)
		ids[w] = EsWaitEventNew(names[w]);
	return ids[w];
}

/*
 * es.metric_counters() → (category, queue_id, metric, value): the counters
 * of the current database, and the server's dropped counter (both keys
 * null).  es.metrics names the queues.
 */
PG_FUNCTION_INFO_V1(es_metric_counters);
Datum
es_metric_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	EsMetricEntry *e;
	EsMetricEntry *copies;
	int			n = 0;
	int			room = 64;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	EsRequirePreloaded();
	InitMaterializedSRF(fcinfo, 0);

	/* Copy this database's entries under the lock, build rows after it. */
	copies = palloc(sizeof(EsMetricEntry) * room);
	LWLockAcquire(metrics_shared->lock, LW_SHARED);
	hash_seq_init(&seq, metrics_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->key.dbid != MyDatabaseId)
			continue;
		if (n == room)
		{
			room *= 2;
			copies = repalloc(copies, sizeof(EsMetricEntry) * room);
		}
		copies[n].key = e->key;
		for (int i = 0; i < ES_NCOUNTERS; i++)
			pg_atomic_init_u64(&copies[n].count[i], pg_atomic_read_u64(&e->count[i]));
		n++;
	}
	LWLockRelease(metrics_shared->lock);

	for (e = copies; e < copies + n; e++)
	{
		bool		queue = e->key.queue_id != 0;
		int			first = queue ? ES_COUNT_ENQUEUED : ES_COUNT_APPENDED;
		int			last = queue ? ES_NCOUNTERS : ES_COUNT_ENQUEUED;

		nulls[0] = queue;
		nulls[1] = !queue;
		values[0] = queue ? (Datum) 0 : CStringGetTextDatum(e->key.category);
		values[1] = Int32GetDatum(e->key.queue_id);
		for (int i = first; i < last; i++)
		{
			values[2] = CStringGetTextDatum(counter_names[i]);
			values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&e->count[i]));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}

	nulls[0] = nulls[1] = true;
	values[2] = CStringGetTextDatum("metrics_dropped_total");
	values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&metrics_shared->dropped));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
