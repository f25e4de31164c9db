/*
 * shmem.c
 *	  Shared state: the registry of global positions held by in-flight
 *	  transactions, and the registry of consumers waiting on queues.
 *
 * Every PGPROC owns one position slot, indexed by its pgprocno: the lowest
 * global position its current transaction has taken (0 when none), with
 * the database it belongs to.  A reader that wants to know up to which
 * position every event of its database is settled (committed or aborted)
 * takes the lock exclusively and looks at all slots: nothing below the
 * smallest published position can still appear.  Writers take the lock
 * shared around "take a position, publish it", so a reader never sees a
 * position handed out but not yet published.  docs/ordering.md gives the
 * whole argument.
 *
 * A prepared transaction hands its slot over to the PGPROC that stands for
 * it until COMMIT PREPARED or ROLLBACK PREPARED (slots cover those too), and
 * a reader frees that slot once the transaction is no longer in progress.
 * A transaction prepared before the server (re)started has no slot: while
 * one is pending in the database, readers refuse, as they cannot know which
 * positions it holds.
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

#include "access/transam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/sequence.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/snapmgr.h"

#include "event_streaming.h"

/*
 * A transaction's claim on global positions.  Its owner sets dbid and xid
 * and then position under the lock in shared mode; readers look under the
 * lock in exclusive mode.  Clearing (position to 0) needs no lock.
 */
typedef struct EsPositionSlot
{
	pg_atomic_uint64 position;	/* lowest position taken, 0 for none */
	Oid			dbid;
	TransactionId xid;			/* set once the transaction prepares */
} EsPositionSlot;

typedef struct EsShared
{
	LWLock	   *lock;			/* guards position hand-out against readers */
	int			nslots;
	EsPositionSlot slot[FLEXIBLE_ARRAY_MEMBER];	/* by pgprocno */
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

/* This backend's slot. */
#define MY_SLOT EsMyProcNumber()

static EsShared *es_shared = NULL;
static EsWaiters *es_waiters = NULL;
static bool es_slot_in_use = false;
static bool es_waiting = false;
static TransactionId es_preparing_xid = InvalidTransactionId;

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
	return add_size(offsetof(EsShared, slot),
					mul_size(EsSlotCount(), sizeof(EsPositionSlot)));
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
									add_size(EsWorkerShmemSize(), EsMetricsShmemSize())));
	RequestNamedLWLockTranche("event_streaming", 1);
	RequestNamedLWLockTranche("event_streaming metrics", 1);
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
		{
			pg_atomic_init_u64(&es_shared->slot[i].position, 0);
			es_shared->slot[i].dbid = InvalidOid;
			es_shared->slot[i].xid = InvalidTransactionId;
		}
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
	EsMetricsShmemStartup();
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

/* The first slot of the PGPROCs that stand for prepared transactions. */
static int
EsFirstPreparedSlot(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS;
}

/*
 * A transaction is being prepared: name it in our slot (before the PGPROC
 * standing for it enters the proc array), so that a reader never takes it
 * for one prepared before the server started.
 */
static void
EsPrePrepare(void)
{
	EsPositionSlot *mine = &es_shared->slot[MY_SLOT];

	es_preparing_xid = GetTopTransactionIdIfAny();
	if (!TransactionIdIsValid(es_preparing_xid))
		return;
	LWLockAcquire(es_shared->lock, LW_SHARED);
	mine->dbid = MyDatabaseId;
	mine->xid = es_preparing_xid;
	LWLockRelease(es_shared->lock);
}

/*
 * The transaction is prepared: hand our claim over to the slot of the
 * PGPROC that stands for it, in one step as far as readers can tell.
 */
static void
EsPrepared(void)
{
	EsPositionSlot *mine = &es_shared->slot[MY_SLOT];
	EsPositionSlot *theirs;
	PGPROC	   *dummy;

	if (!TransactionIdIsValid(es_preparing_xid))
		return;
	dummy = EsTwoPhaseGetDummyProc(es_preparing_xid);
	theirs = &es_shared->slot[EsProcNumber(dummy)];
	LWLockAcquire(es_shared->lock, LW_SHARED);
	theirs->dbid = MyDatabaseId;
	theirs->xid = es_preparing_xid;
	pg_atomic_write_u64(&theirs->position, pg_atomic_read_u64(&mine->position));
	pg_atomic_write_u64(&mine->position, 0);
	mine->xid = InvalidTransactionId;
	LWLockRelease(es_shared->lock);
	es_slot_in_use = false;
	es_preparing_xid = InvalidTransactionId;
}

/*
 * Release this backend's slot when its transaction ends.  The callback runs
 * after the commit is visible to new snapshots, so a reader that finds the
 * slot empty also sees the events.
 */
static void
EsXactCallback(XactEvent event, void *arg)
{
	if (es_shared == NULL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			EsNotifyXactEvent(event);
			break;
		case XACT_EVENT_PRE_PREPARE:
			EsPrePrepare();
			break;
		case XACT_EVENT_PREPARE:
			EsPrepared();
			EsFallthrough;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (es_slot_in_use || TransactionIdIsValid(es_preparing_xid))
			{
				pg_atomic_write_u64(&es_shared->slot[MY_SLOT].position, 0);
				es_shared->slot[MY_SLOT].xid = InvalidTransactionId;
				es_slot_in_use = false;
				es_preparing_xid = InvalidTransactionId;
			}
			if (event == XACT_EVENT_COMMIT && (es_nchanged > 0 || es_changed_overflow))
				EsWakeWaiters();
			EsNotifyXactEvent(event);
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
		EsPositionSlot *mine = &es_shared->slot[MY_SLOT];

		mine->dbid = MyDatabaseId;
		pg_atomic_write_u64(&mine->position, (uint64) pos[0]);
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

/*
 * Whether a backend's slot names xid as a transaction it is preparing.
 * Called with the lock held exclusively.
 */
static bool
EsKnownPrepared(TransactionId xid)
{
	for (int i = 0; i < EsFirstPreparedSlot(); i++)
		if (TransactionIdEquals(es_shared->slot[i].xid, xid))
			return true;
	return false;
}

/*
 * A transaction prepared before the server started and pending in this
 * database, or InvalidTransactionId.  Its positions were never published,
 * so nothing tells which of them can still commit.  Called with the lock
 * held exclusively.
 */
static TransactionId
EsUnknownPrepared(void)
{
	int			first = EsFirstPreparedSlot();

	for (int i = first; i < first + max_prepared_xacts; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		TransactionId xid = proc->xid;

		if (!TransactionIdIsValid(xid) || proc->databaseId != MyDatabaseId)
			continue;
		/* Handed over to its own slot (the usual case), or still preparing. */
		if (TransactionIdEquals(es_shared->slot[i].xid, xid) || EsKnownPrepared(xid) ||
			!TransactionIdIsInProgress(xid))
			continue;
		return xid;
	}
	return InvalidTransactionId;
}

/*
 * The read horizon of this database: every event with a global position
 * below it is settled, committed (and visible to the snapshot returned in
 * *snap) or aborted for good.  PG_INT64_MAX when no transaction holds a
 * position.  The snapshot is taken while no position can be handed out, so
 * an event it sees was given its position before anything it does not see
 * that is still in flight; the caller must unregister it.
 *
 * Refused during recovery: a standby does not know which positions the
 * primary's transactions in flight hold.
 */
int64
EsReadHorizon(Snapshot *snap)
{
	uint64		horizon = PG_INT64_MAX;
	int			first_prepared = EsFirstPreparedSlot();
	TransactionId unknown = InvalidTransactionId;

	EsRequirePreloaded();
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read events in global order during recovery"),
				 errdetail("A hot standby cannot know which global positions the primary's transactions in flight hold, so it cannot tell a gap that will fill from one that will not."),
				 errhint("Read in global order on the primary; es.read_stream works on a standby.")));

	LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < es_shared->nslots; i++)
	{
		EsPositionSlot *s = &es_shared->slot[i];
		uint64		pos = pg_atomic_read_u64(&s->position);

		if (pos == 0 || s->dbid != MyDatabaseId)
			continue;
		/* A prepared transaction's claim lasts while it is in progress. */
		if (i >= first_prepared && !TransactionIdIsInProgress(s->xid))
		{
			pg_atomic_write_u64(&s->position, 0);
			continue;
		}
		horizon = Min(horizon, pos);
	}
	if (max_prepared_xacts > 0)
		unknown = EsUnknownPrepared();
	if (!TransactionIdIsValid(unknown))
		*snap = RegisterSnapshot(GetLatestSnapshot());
	LWLockRelease(es_shared->lock);
	if (TransactionIdIsValid(unknown))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot read events in global order while transaction %u, prepared before the server started, is pending",
						unknown),
				 errdetail("The transaction may hold global positions below events that have committed since."),
				 errhint("Finish it with COMMIT PREPARED or ROLLBACK PREPARED (see pg_prepared_xacts).")));
	return (int64) horizon;
}
