/*
 * shmem.c
 *	  Shared state: the registry of global positions held by in-flight
 *	  transactions.
 *
 * Every backend owns one slot, indexed by its pgprocno, holding the lowest
 * global position its current transaction has taken (0 when none).  A
 * reader that wants to know up to which position every event is settled
 * (committed or aborted) takes the lock exclusively and looks at all slots:
 * nothing below the smallest published position can still appear.  Writers
 * take the lock shared around "take a position, publish it", so a reader
 * never sees a position handed out but not yet published.
 *
 * A backend waiting in es.dequeue publishes the queue it waits on in its
 * waiter slot (again by pgprocno).  A transaction that made messages of a
 * queue visible (enqueue, nack, redrive, the ack of a group's head) sets
 * the latch of every backend waiting on that queue once it has committed.
 * The waiter publishes before it looks at the queue and the waker looks at
 * the slots only after its commit is visible, so a wake-up is never lost:
 * either the waiter's look sees the commit, or the waker sees the waiter.
 */
#include "postgres.h"

#include "access/twophase.h"	/* max_prepared_xacts */
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/sequence.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"

#include "event_streaming.h"

typedef struct EsShared
{
	LWLock	   *lock;			/* guards position hand-out against readers */
	int			nslots;
	pg_atomic_uint64 min_position[FLEXIBLE_ARRAY_MEMBER];	/* by pgprocno */
} EsShared;

/* A backend waiting in es.dequeue: queue 0 means not waiting. */
typedef struct EsWaiter
{
	pg_atomic_uint32 queue_id;
	Oid			dbid;
} EsWaiter;

typedef struct EsWaiters
{
	pg_atomic_uint32 count;		/* slots in use, so that wakers can skip */
	EsWaiter	slot[FLEXIBLE_ARRAY_MEMBER];	/* by pgprocno */
} EsWaiters;

/* This backend's slot; PGPROC lost its pgprocno field in 17. */
#if PG_VERSION_NUM >= 170000
#define MY_SLOT MyProcNumber
#else
#define MY_SLOT (MyProc->pgprocno)
#endif

static EsShared *es_shared = NULL;
static EsWaiters *es_waiters = NULL;
static bool es_slot_in_use = false;
static bool es_waiting = false;

/*
 * Queues this transaction made messages visible in, to wake at commit.  Past
 * ES_MAX_CHANGED distinct queues, every waiter of the database is woken.
 */
#define ES_MAX_CHANGED 16
static int32 es_changed[ES_MAX_CHANGED];
static int	es_nchanged = 0;
static bool es_changed_overflow = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* One slot for every PGPROC: backends, workers, auxiliaries, prepared xacts. */
static int
EsSlotCount(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

static Size
EsShmemSize(void)
{
	return add_size(offsetof(EsShared, min_position),
					mul_size(EsSlotCount(), sizeof(pg_atomic_uint64)));
}

static Size
EsWaitersSize(void)
{
	return add_size(offsetof(EsWaiters, slot),
					mul_size(EsSlotCount(), sizeof(EsWaiter)));
}

static void
EsShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(add_size(EsShmemSize(), EsWaitersSize()),
									EsWorkerShmemSize()));
	RequestNamedLWLockTranche("event_streaming", 1);
}

static void
EsShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	es_shared = ShmemInitStruct("event_streaming", EsShmemSize(), &found);
	if (!found)
	{
		es_shared->lock = &(GetNamedLWLockTranche("event_streaming"))->lock;
		es_shared->nslots = EsSlotCount();
		for (int i = 0; i < es_shared->nslots; i++)
			pg_atomic_init_u64(&es_shared->min_position[i], 0);
	}
	es_waiters = ShmemInitStruct("event_streaming waiters", EsWaitersSize(), &found);
	if (!found)
	{
		pg_atomic_init_u32(&es_waiters->count, 0);
		for (int i = 0; i < EsSlotCount(); i++)
		{
			pg_atomic_init_u32(&es_waiters->slot[i].queue_id, 0);
			es_waiters->slot[i].dbid = InvalidOid;
		}
	}
	EsWorkerShmemStartup();
	LWLockRelease(AddinShmemInitLock);
}

/* Set the latch of every backend of this database waiting on a changed queue. */
static void
EsWakeWaiters(void)
{
	int			nslots = es_shared->nslots;

	/* Our commit is visible; read the slots only after it. */
	pg_memory_barrier();
	if (pg_atomic_read_u32(&es_waiters->count) == 0)
		return;
	for (int i = 0; i < nslots; i++)
	{
		uint32		q = pg_atomic_read_u32(&es_waiters->slot[i].queue_id);
		bool		wake = false;

		if (q == 0)
			continue;
		pg_read_barrier();		/* dbid was written before queue_id */
		if (es_waiters->slot[i].dbid != MyDatabaseId)
			continue;
		wake = es_changed_overflow;
		for (int j = 0; j < es_nchanged && !wake; j++)
			wake = (es_changed[j] == (int32) q);
		if (wake)
			SetLatch(&ProcGlobal->allProcs[i].procLatch);
	}
}

/*
 * Release this backend's slot when its transaction ends.  The callback runs
 * after the commit is visible to new snapshots, so a reader that finds the
 * slot empty also sees the events.
 */
static void
EsXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:

			/*
			 * A prepared transaction outlives this backend's slot, and
			 * nothing tells us when COMMIT PREPARED runs; releasing the slot
			 * now would let a reader pass positions that can still commit.
			 */
			if (es_slot_in_use)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has appended events")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			if (es_slot_in_use && es_shared != NULL)
			{
				pg_atomic_write_u64(&es_shared->min_position[MY_SLOT], 0);
				es_slot_in_use = false;
			}
			if (event == XACT_EVENT_COMMIT && (es_nchanged > 0 || es_changed_overflow))
				EsWakeWaiters();
			es_nchanged = 0;
			es_changed_overflow = false;
			EsQueueWaitEnd();
			break;
		default:
			break;
	}
}

/*
 * Reserve shared memory and install the hooks.  Outside of
 * shared_preload_libraries nothing is reserved, and the functions that need
 * the shared state refuse to run (EsRequirePreloaded).
 */
void
EsShmemInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = EsShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = EsShmemStartup;
	RegisterXactCallback(EsXactCallback, NULL);
}

/* Refuse to run without the shared state, naming the setting that fixes it. */
void
EsRequirePreloaded(void)
{
	if (es_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("event_streaming is not loaded through shared_preload_libraries"),
				 errhint("Add event_streaming to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * Take n global positions from the sequence into pos[], publishing the first
 * in this backend's slot if it is the transaction's first.
 *
 * The sequence is locked before the LWLock so that nextval never waits on a
 * heavyweight lock while readers are kept out.
 *
 * A sequence WAL-logs values ahead of use but does not flush that record:
 * after a crash, values handed to a transaction that never committed would
 * be handed out again.  So when nextval wrote a record we flush it before
 * any position leaves this function.  That is one flush per 32 positions
 * (SEQ_LOG_VALS), not one per append.
 */
void
EsNextGlobalPositions(Oid seqoid, int n, int64 *pos)
{
	XLogRecPtr	last_rec = XactLastRecEnd;

	LockRelationOid(seqoid, RowExclusiveLock);

	LWLockAcquire(es_shared->lock, LW_SHARED);
	for (int i = 0; i < n; i++)
		pos[i] = nextval_internal(seqoid, false);
	if (!es_slot_in_use)
	{
		pg_atomic_write_u64(&es_shared->min_position[MY_SLOT], (uint64) pos[0]);
		es_slot_in_use = true;
	}
	LWLockRelease(es_shared->lock);

	if (XactLastRecEnd != last_rec)
		XLogFlush(XactLastRecEnd);
}

/*
 * Remember that this transaction made messages of a queue visible (or may
 * have), so that waiting consumers are woken when it commits.  Without the
 * shared state there can be no waiters, and nothing is remembered.
 */
void
EsQueueChanged(int32 queue_id)
{
	if (es_shared == NULL || es_changed_overflow)
		return;
	for (int i = 0; i < es_nchanged; i++)
		if (es_changed[i] == queue_id)
			return;
	if (es_nchanged == ES_MAX_CHANGED)
		es_changed_overflow = true;
	else
		es_changed[es_nchanged++] = queue_id;
}

/*
 * Publish that this backend waits on a queue.  Call before looking at the
 * queue: see the header comment for why that order loses no wake-up.
 */
void
EsQueueWaitBegin(int32 queue_id)
{
	EsWaiter   *w;

	EsRequirePreloaded();
	Assert(queue_id != 0);
	w = &es_waiters->slot[MY_SLOT];
	w->dbid = MyDatabaseId;
	pg_write_barrier();
	pg_atomic_write_u32(&w->queue_id, (uint32) queue_id);
	if (!es_waiting)
		pg_atomic_fetch_add_u32(&es_waiters->count, 1);	/* a full barrier */
	es_waiting = true;
}

/* Stop waiting; harmless when not waiting. */
void
EsQueueWaitEnd(void)
{
	if (!es_waiting)
		return;
	pg_atomic_write_u32(&es_waiters->slot[MY_SLOT].queue_id, 0);
	pg_atomic_fetch_sub_u32(&es_waiters->count, 1);
	es_waiting = false;
}
