/*
 * worker.c
 *	  The background worker: a launcher, and one worker per served database
 *	  that runs the redelivery pass and the retention passes, resting
 *	  event_streaming.naptime and event_streaming.retention_interval after
 *	  each run, and event_streaming.sweep_delay between two steps.
 *
 * The launcher is a static worker, registered by _PG_init when the library
 * is preloaded; the postmaster restarts it if it dies.  It starts a dynamic
 * worker for each database named in event_streaming.databases and starts it
 * again (after RESTART_DELAY_US) when it stops.  Both start only once
 * recovery is over: on a hot standby neither runs, and they start at
 * promotion.  A worker stops by itself when its database leaves the list or
 * the worker is switched off; it idles while the extension is not installed
 * (or not yet updated to a version with the passes) in its database.
 *
 * Each step of a pass is one short transaction (retention.c bounds it).  An
 * error ends the pass: it is logged with the pass and the target as
 * context, recorded for es.worker_status, and the pass runs again at its
 * next turn.
 *
 * Each worker owns one slot of shared memory, found by database: its
 * process id, and the status of each pass.  A worker that finds its
 * database's slot owned by a live process leaves, so a database is never
 * served twice (say, by the worker of a launcher that has since restarted).
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

#include "event_streaming.h"

/* Most databases served at once. */
#define ES_MAX_SERVED_DATABASES 64

/* Least time between two starts of the worker of one database. */
#define RESTART_DELAY_US (5 * USECS_PER_SEC)

/* How often the launcher looks at its workers, at most. */
#define LAUNCHER_NAPTIME_MS 1000

/* The first version of the extension with the passes' tables. */
#define MIN_SERVED_VERSION 3000		/* 0.3.0, as major*1000000+minor*1000+patch */
#define PROJECTIONS_VERSION 4000	/* 0.4.0: projections */
#define MIGRATIONS_VERSION 5000		/* 0.5.0: data migrations */

typedef enum EsPass
{
	PASS_REDELIVERY,
	PASS_RETENTION,
	PASS_PROJECTIONS,
	PASS_MIGRATIONS,
	NUM_PASSES
} EsPass;

static const char *const pass_names[NUM_PASSES] = {"redelivery", "retention", "projections",
"migrations"};

typedef struct EsPassStatus
{
	int64		runs;
	TimestampTz last_start;
	TimestampTz last_finish;
	int64		last_affected;
	int64		total_affected;
	int64		errors;
	TimestampTz last_error_at;
	char		last_error[256];
} EsPassStatus;

typedef struct EsWorkerSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		pid;			/* 0: no worker running */
	Latch	   *latch;			/* the worker's, to wake it */
	bool		projections;	/* it runs projections: wake it on appends */
	TimestampTz started_at;
	EsPassStatus pass[NUM_PASSES];
} EsWorkerSlot;

typedef struct EsWorkerShared
{
	slock_t		mutex;
	EsWorkerSlot slot[ES_MAX_SERVED_DATABASES];
} EsWorkerShared;

static EsWorkerShared *es_workers = NULL;
static EsWorkerSlot *my_slot = NULL;

/* What the launcher knows of the worker it started for a database. */
typedef struct Launched
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
} Launched;

PGDLLEXPORT void es_launcher_main(Datum arg);
PGDLLEXPORT void es_worker_main(Datum arg);

Size
EsWorkerShmemSize(void)
{
	return sizeof(EsWorkerShared);
}

void
EsWorkerShmemStartup(void)
{
	bool		found;

	es_workers = ShmemInitStruct("event_streaming workers", EsWorkerShmemSize(), &found);
	if (!found)
	{
		memset(es_workers, 0, sizeof(EsWorkerShared));
		SpinLockInit(&es_workers->mutex);
	}
}

/*
 * Register the launcher; only while the library is being preloaded, and not
 * in a server that pg_upgrade started (binary-upgrade mode): nothing may
 * write to the old cluster while it is read, nor to the new one before its
 * data files arrive.
 */
void
EsWorkerInit(void)
{
	BackgroundWorker bgw;

	if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade)
		return;
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	strlcpy(bgw.bgw_library_name, "event_streaming", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "es_launcher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "event_streaming launcher", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "event_streaming launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/*
 * The database names of event_streaming.databases (none when the worker is
 * switched off), allocated in the current memory context.
 */
static List *
ServedNames(void)
{
	char	   *raw;
	List	   *names = NIL;

	if (!es_worker_enabled)
		return NIL;
	raw = pstrdup(es_worker_databases);
	if (!SplitGUCList(raw, ',', &names))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in event_streaming.databases")));
		return NIL;
	}
	return names;
}

/* Whether the worker of a database has a live process, by its slot. */
static bool
SlotRunning(Oid dboid)
{
	bool		running = false;

	SpinLockAcquire(&es_workers->mutex);
	for (int i = 0; i < ES_MAX_SERVED_DATABASES; i++)
		if (es_workers->slot[i].dboid == dboid && es_workers->slot[i].pid != 0)
			running = true;
	SpinLockRelease(&es_workers->mutex);
	return running;
}

static void
StartWorker(Launched *l, const char *dbname)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "event_streaming", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "es_worker_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "event_streaming worker for database \"%s\"", dbname);
	strlcpy(bgw.bgw_type, "event_streaming worker", BGW_MAXLEN);
	bgw.bgw_main_arg = ObjectIdGetDatum(l->dboid);
	bgw.bgw_notify_pid = MyProcPid;

	l->started_at = GetCurrentTimestamp();
	if (!RegisterDynamicBackgroundWorker(&bgw, &l->handle))
	{
		l->handle = NULL;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the event_streaming worker for database \"%s\"", dbname),
				 errhint("Raise max_worker_processes.")));
	}
}

/*
 * The OID of a database that accepts connections, or InvalidOid.  The
 * launcher is connected to no database, so it reads pg_database, a shared
 * catalog, with a heap scan: indexes need pg_class.
 */
static Oid
DatabaseOid(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			oid = InvalidOid;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0 && db->datallowconn)
			oid = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return oid;
}

/*
 * Start the worker of every served database that has none running, at most
 * once per RESTART_DELAY_US each.  Names that are not databases are
 * reported once per configuration.  Runs in TopMemoryContext, where the
 * launched list and the worker handles live; tmp holds the rest.
 */
static void
Supervise(List **launched, bool config_changed, MemoryContext tmp)
{
	List	   *names;
	Oid		   *oids;
	int			i = 0;
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();

	MemoryContextReset(tmp);
	MemoryContextSwitchTo(tmp);
	names = ServedNames();
	oids = palloc0(sizeof(Oid) * (list_length(names) + 1));
	foreach(lc, names)
		oids[i++] = DatabaseOid(lfirst(lc));
	MemoryContextSwitchTo(TopMemoryContext);

	i = 0;
	foreach(lc, names)
	{
		Oid			dboid = oids[i++];
		Launched   *l = NULL;
		ListCell   *lc2;
		pid_t		pid;

		if (!OidIsValid(dboid))
		{
			if (config_changed)
				ereport(WARNING,
						(errcode(ERRCODE_UNDEFINED_DATABASE),
						 errmsg("database \"%s\" named in event_streaming.databases does not exist",
								(char *) lfirst(lc)),
						 errdetail("It will be served once it is created.")));
			continue;
		}
		foreach(lc2, *launched)
			if (((Launched *) lfirst(lc2))->dboid == dboid)
				l = lfirst(lc2);
		if (l == NULL)
		{
			l = palloc0(sizeof(Launched));
			l->dboid = dboid;
			*launched = lappend(*launched, l);
		}
		if (l->handle != NULL &&
			GetBackgroundWorkerPid(l->handle, &pid) != BGWH_STOPPED)
			continue;
		if (l->handle != NULL)
		{
			pfree(l->handle);
			l->handle = NULL;
		}
		if (SlotRunning(dboid) ||
			(l->started_at != 0 && now - l->started_at < RESTART_DELAY_US))
			continue;
		StartWorker(l, lfirst(lc));
	}
}

/* The launcher's main loop. */
void
es_launcher_main(Datum arg)
{
	List	   *launched = NIL;
	bool		config_changed = true;
	MemoryContext tmp;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("event_streaming launcher");
	tmp = AllocSetContextCreate(TopMemoryContext, "event_streaming launcher",
								ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		Supervise(&launched, config_changed, tmp);
		config_changed = false;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_NAPTIME_MS, EsWaitEvent(ES_WAIT_LAUNCHER_NAP));
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			config_changed = true;
		}
	}
}

/* Give the slot back when the worker exits, however it exits. */
static void
ReleaseSlot(int code, Datum arg)
{
	SpinLockAcquire(&es_workers->mutex);
	my_slot->pid = 0;
	my_slot->latch = NULL;
	my_slot->projections = false;
	SpinLockRelease(&es_workers->mutex);
}

/*
 * Take this database's slot (or a free one).  False when another live
 * process serves the database already, or every slot is taken.
 */
static bool
ClaimSlot(void)
{
	EsWorkerSlot *mine = NULL;
	EsWorkerSlot *free_slot = NULL;
	bool		ok = true;

	SpinLockAcquire(&es_workers->mutex);
	for (int i = 0; i < ES_MAX_SERVED_DATABASES; i++)
	{
		EsWorkerSlot *s = &es_workers->slot[i];

		if (s->dboid == MyDatabaseId)
			mine = s;
		else if (s->dboid == InvalidOid && free_slot == NULL)
			free_slot = s;
	}
	/* Past 64 databases since the start, reuse a slot no worker holds. */
	for (int i = 0; i < ES_MAX_SERVED_DATABASES && mine == NULL && free_slot == NULL; i++)
		if (es_workers->slot[i].pid == 0)
			free_slot = &es_workers->slot[i];
	if (mine == NULL && free_slot != NULL)
	{
		mine = free_slot;
		memset(mine, 0, sizeof(EsWorkerSlot));
		mine->dboid = MyDatabaseId;
	}
	if (mine == NULL || (mine->pid != 0 && kill(mine->pid, 0) == 0))
		ok = false;
	else
	{
		mine->pid = MyProcPid;
		mine->latch = MyLatch;
		mine->projections = false;
		mine->started_at = GetCurrentTimestamp();
		my_slot = mine;
	}
	SpinLockRelease(&es_workers->mutex);
	if (ok)
		on_shmem_exit(ReleaseSlot, 0);
	return ok;
}

/* Whether this worker's database is still to be served. */
static bool
StillServed(const char *dbname)
{
	ListCell   *lc;

	foreach(lc, ServedNames())
		if (strcmp(lfirst(lc), dbname) == 0)
			return true;
	return false;
}

/* "a.b.c" as a*1000000 + b*1000 + c. */
static int
VersionNumber(const char *v)
{
	int			major = 0,
				minor = 0,
				patch = 0;

	(void) sscanf(v, "%d.%d.%d", &major, &minor, &patch);
	return major * 1000000 + minor * 1000 + patch;
}

/* The version of the extension in this database, as VersionNumber gives. */
static int	served_version = 0;

/*
 * Whether the extension is installed in this database at a version with the
 * passes.  Logs when that changes, so an idle worker says why.
 */
static bool
ExtensionReady(void)
{
	static int	last_state = -1;	/* 0 missing, 1 too old, 2 ready */
	int			state;
	char	   *version = NULL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("event_streaming", true)))
	{
		SPI_connect();
		if (SPI_execute("SELECT extversion FROM pg_catalog.pg_extension"
						" WHERE extname OPERATOR(pg_catalog.=) 'event_streaming'",
						true, 1) == SPI_OK_SELECT && SPI_processed == 1)
			version = MemoryContextStrdup(TopTransactionContext,
										  SPI_getvalue(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 1));
		SPI_finish();
	}
	served_version = version == NULL ? 0 : VersionNumber(version);
	state = version == NULL ? 0 : served_version < MIN_SERVED_VERSION ? 1 : 2;
	if (state != last_state)
	{
		if (state == 0)
			ereport(LOG,
					(errmsg("event_streaming worker waiting for CREATE EXTENSION event_streaming")));
		else if (state == 1)
			ereport(LOG,
					(errmsg("event_streaming worker waiting for ALTER EXTENSION event_streaming UPDATE"),
					 errdetail("Version %s is installed; the worker needs 0.3.0 or later.", version)));
		else
			ereport(LOG,
					(errmsg("event_streaming worker serving version %s", version)));
		last_state = state;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	return state == 2;
}

/* Context of an error in a pass: which pass, at which stream or queue. */
typedef struct PassContext
{
	EsPass		pass;
	EsSweep    *sweep;
} PassContext;

static void
PassErrorContext(void *arg)
{
	PassContext *pc = arg;

	if (pc->sweep->after != NULL && pc->sweep->after[0] != '\0')
		errcontext("%s pass of the event_streaming worker, at \"%s\"",
				   pass_names[pc->pass], pc->sweep->after);
	else
		errcontext("%s pass of the event_streaming worker", pass_names[pc->pass]);
}

static void
NoReport(const char *pass, const char *name, int64 rows, void *arg)
{
}

/*
 * In a pass's PG_CATCH: log the error (its context names the pass and the
 * target), abort the transaction, and record the error and the rows the
 * pass changed before it.
 */
static void
PassFailed(EsPassStatus *st, MemoryContext cxt, int64 total)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	EmitErrorReport();
	FlushErrorState();
	AbortCurrentTransaction();

	SpinLockAcquire(&es_workers->mutex);
	st->errors++;
	st->last_error_at = GetCurrentTimestamp();
	strlcpy(st->last_error, edata->message ? edata->message : "", sizeof(st->last_error));
	st->total_affected += total;
	SpinLockRelease(&es_workers->mutex);
}

/*
 * Run a pass to its end, one step per transaction, and record it in the
 * slot.  An error ends the pass; it is logged and recorded.
 */
static void
RunPass(EsPass pass, MemoryContext cxt)
{
	EsPassStatus *st = &my_slot->pass[pass];
	TimestampTz now = GetCurrentTimestamp();
	EsSweep		sweep;
	PassContext pc = {pass, &sweep};
	ErrorContextCallback errcb;
	volatile int64 total = 0;

	SpinLockAcquire(&es_workers->mutex);
	st->runs++;
	st->last_start = now;
	SpinLockRelease(&es_workers->mutex);

	MemoryContextReset(cxt);
	if (pass == PASS_REDELIVERY)
		EsSweepBegin(&sweep, ES_PHASE_REDELIVERY, ES_PHASE_REDELIVERY, now, cxt);
	else
		EsSweepBegin(&sweep, ES_PHASE_STREAMS, ES_PHASE_DEAD_LETTERS, now, cxt);

	errcb.callback = PassErrorContext;
	errcb.arg = &pc;
	errcb.previous = error_context_stack;
	PG_TRY();
	{
		bool		more;

		/* PG_CATCH pops it */
		error_context_stack = &errcb;
		do
		{
			int64		changed;

			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			pgstat_report_activity(STATE_RUNNING, pass_names[pass]);
			more = EsSweepStep(&sweep, es_sweep_batch_size, &changed, NoReport, NULL);
			PopActiveSnapshot();
			CommitTransactionCommand();
			total += changed;
			/* A pass switched off stops at once, its steps done so far kept. */
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			if (!es_worker_enabled ||
				!(pass == PASS_REDELIVERY ? es_redelivery_enabled : es_retention_enabled))
				break;
			/* Leave the CPU and the WAL to the application for a while. */
			if (more && es_sweep_delay > 0)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 es_sweep_delay, EsWaitEvent(ES_WAIT_SWEEP_DELAY));
				ResetLatch(MyLatch);
			}
			CHECK_FOR_INTERRUPTS();
		} while (more);
		error_context_stack = errcb.previous;

		SpinLockAcquire(&es_workers->mutex);
		st->last_finish = GetCurrentTimestamp();
		st->last_affected = total;
		st->total_affected += total;
		SpinLockRelease(&es_workers->mutex);
	}
	PG_CATCH();
	{
		PassFailed(st, cxt, total);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(true);
}

static List *ListProjections(MemoryContext cxt);

static void
ProjectionErrorContext(void *arg)
{
	errcontext("projections pass of the event_streaming worker, at projection \"%s\"",
			   (const char *) arg);
}

/* The names of the running projections, in cxt; NIL after an error. */
static List *
RunningProjections(EsPassStatus *st, MemoryContext cxt)
{
	List	   *volatile names = NIL;

	PG_TRY();
	{
		names = ListProjections(cxt);
	}
	PG_CATCH();
	{
		PassFailed(st, cxt, 0);
	}
	PG_END_TRY();
	return names;
}

/* The names of the running projections, in cxt. */
static List *
ListProjections(MemoryContext cxt)
{
	List	   *names = NIL;
	MemoryContext oldcxt;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("SELECT name FROM es.projection_catalog"
					" WHERE status OPERATOR(pg_catalog.=) 'running' ORDER BY name",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the projections");
	/* The list outlives SPI's memory: build it in cxt. */
	oldcxt = MemoryContextSwitchTo(cxt);
	for (uint64 i = 0; i < SPI_processed; i++)
		names = lappend(names, pstrdup(SPI_getvalue(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 1)));
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return names;
}

/*
 * One transaction of a projection: how many events it handled.  An error is
 * logged and recorded.
 */
static int64
RunProjection(char *name, EsPassStatus *st, MemoryContext cxt)
{
	ErrorContextCallback errcb;
	volatile int64 n = 0;

	errcb.callback = ProjectionErrorContext;
	errcb.arg = name;
	errcb.previous = error_context_stack;
	PG_TRY();
	{
		error_context_stack = &errcb;
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "projections");
		n = EsProjectionRun(name, es_projection_batch_size, true);
		PopActiveSnapshot();
		CommitTransactionCommand();
		error_context_stack = errcb.previous;
	}
	PG_CATCH();
	{
		error_context_stack = errcb.previous;
		PassFailed(st, cxt, 0);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return n;
}

/*
 * Run every running projection, projection_batch_size events per
 * transaction, round by round until none has more to do or a naptime has
 * passed.  An error stops that projection's turn: it is logged and
 * recorded, the others go on.  False when there was an error.
 */
static bool
RunProjections(MemoryContext cxt)
{
	EsPassStatus *st = &my_slot->pass[PASS_PROJECTIONS];
	int64		total = 0;
	int64		errors_before = st->errors;
	List	   *names;
	bool		more;
	TimestampTz until = GetCurrentTimestamp() + es_worker_naptime * INT64CONST(1000);

	MemoryContextReset(cxt);
	SpinLockAcquire(&es_workers->mutex);
	st->runs++;
	st->last_start = GetCurrentTimestamp();
	SpinLockRelease(&es_workers->mutex);

	names = RunningProjections(st, cxt);
	my_slot->projections = names != NIL;
	do
	{
		ListCell   *lc;

		more = false;
		foreach(lc, names)
		{
			int64		n = RunProjection(lfirst(lc), st, cxt);

			total += n;
			if (n >= es_projection_batch_size)
				more = true;
		}
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!es_worker_enabled || !es_projections_enabled)
			break;
		/* Leave room for the other passes under a steady flow of events. */
	} while (more && GetCurrentTimestamp() < until);

	SpinLockAcquire(&es_workers->mutex);
	st->last_finish = GetCurrentTimestamp();
	st->last_affected = total;
	st->total_affected += total;
	SpinLockRelease(&es_workers->mutex);
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(false);
	return st->errors == errors_before;
}

static void
MigrationErrorContext(void *arg)
{
	errcontext("migrations pass of the event_streaming worker, at data migration \"%s\"",
			   (const char *) arg);
}

/*
 * Run the requested data migrations, each step as its owner, until one
 * fails or none is left.  Skipped while a CALL es.run_data_migrations()
 * holds the runner's lock.  A failing step is recorded in its row and in
 * the pass's status.
 */
static void
RunMigrations(MemoryContext cxt)
{
	EsPassStatus *st = &my_slot->pass[PASS_MIGRATIONS];
	EsMigrationStep step;
	volatile bool locked = false;
	volatile int64 total = 0;
	ErrorContextCallback errcb;

	MemoryContextReset(cxt);
	step.name = "";
	errcb.callback = MigrationErrorContext;
	errcb.previous = error_context_stack;
	PG_TRY();
	{
		/* declared in here: not live across the longjmp (-Wclobbered) */
		ErrorData  *failed = NULL;
		bool		requested;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		requested = EsMigrationRequested();
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
		if (requested && (locked = EsMigrationLock(false)))
		{
			SpinLockAcquire(&es_workers->mutex);
			st->runs++;
			st->last_start = GetCurrentTimestamp();
			SpinLockRelease(&es_workers->mutex);
			pgstat_report_activity(STATE_RUNNING, "migrations");
			for (;;)
			{
				bool		found;

				SetCurrentStatementStartTimestamp();
				StartTransactionCommand();
				PushActiveSnapshot(GetTransactionSnapshot());
				SPI_connect();
				found = EsMigrationNext(true, &step, cxt);
				SPI_finish();
				PopActiveSnapshot();
				CommitTransactionCommand();
				MemoryContextSwitchTo(cxt);
				if (!found)
					break;
				errcb.arg = step.name;
				error_context_stack = &errcb;
				SetCurrentStatementStartTimestamp();
				StartTransactionCommand();
				PushActiveSnapshot(GetTransactionSnapshot());
				SPI_connect();
				failed = EsMigrationRun(&step, true, cxt);
				SPI_finish();
				PopActiveSnapshot();
				CommitTransactionCommand();
				MemoryContextSwitchTo(cxt);
				error_context_stack = errcb.previous;
				if (failed != NULL)
					break;
				total++;
				CHECK_FOR_INTERRUPTS();
			}
			EsMigrationUnlock();
			locked = false;
			SpinLockAcquire(&es_workers->mutex);
			st->last_finish = GetCurrentTimestamp();
			st->last_affected = total;
			st->total_affected += total;
			if (failed != NULL)
			{
				st->errors++;
				st->last_error_at = GetCurrentTimestamp();
				snprintf(st->last_error, sizeof(st->last_error), "data migration \"%s\": %s",
						 step.name, failed->message ? failed->message : "");
			}
			SpinLockRelease(&es_workers->mutex);
			if (failed != NULL)
				ereport(LOG,
						(errmsg("event_streaming data migration \"%s\" failed: %s",
								step.name, failed->message ? failed->message : "")));
		}
	}
	PG_CATCH();
	{
		error_context_stack = errcb.previous;
		PassFailed(st, cxt, total);
		if (locked)
			EsMigrationUnlock();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Wake this database's worker: after a commit that appended, if it runs
 * projections; after a change to the projections, in any case.  The slots
 * are read without the lock: a stale value costs one spare wake-up, or one
 * missed that the worker's naptime makes up for.
 */
void
EsWakeWorker(bool appended)
{
	if (es_workers == NULL)
		return;
	for (int i = 0; i < ES_MAX_SERVED_DATABASES; i++)
	{
		EsWorkerSlot *s = &es_workers->slot[i];
		Latch	   *latch = s->latch;

		if (s->dboid == MyDatabaseId && latch != NULL && (s->projections || !appended))
			SetLatch(latch);
	}
}

/* A worker's main loop; the database's OID is the argument. */
void
es_worker_main(Datum arg)
{
	MemoryContext pass_cxt;
	MemoryContext loop_cxt;
	char	   *dbname;
	TimestampTz next_redelivery = 0;
	TimestampTz next_retention = 0;
	TimestampTz next_projections = 0;
	TimestampTz next_migrations = 0;
	TimestampTz next_ready_check = 0;
	bool		ready = false;
	bool		woken = false;
	bool		projection_error = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	pgstat_report_appname("event_streaming worker");

	StartTransactionCommand();
	dbname = get_database_name(MyDatabaseId);
	dbname = MemoryContextStrdup(TopMemoryContext, dbname ? dbname : "");
	CommitTransactionCommand();

	if (!ClaimSlot())
	{
		ereport(LOG,
				(errmsg("event_streaming worker for database \"%s\" not started: another process serves it, or %d databases are served already",
						dbname, ES_MAX_SERVED_DATABASES)));
		proc_exit(0);
	}
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "event_streaming pass",
									 ALLOCSET_DEFAULT_SIZES);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "event_streaming worker",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		TimestampTz now;
		long		timeout_ms;
		bool		projections;
		int			rc;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* a shorter nap or interval applies from now */
			next_redelivery = Min(next_redelivery,
								  GetCurrentTimestamp() + es_worker_naptime * INT64CONST(1000));
			next_retention = Min(next_retention,
								 GetCurrentTimestamp() + es_retention_interval * USECS_PER_SEC);
		}
		if (!StillServed(dbname))
		{
			ereport(LOG,
					(errmsg("event_streaming worker for database \"%s\" stopping", dbname),
					 errdetail("The database is no longer served: see event_streaming.databases and event_streaming.worker.")));
			proc_exit(0);
		}

		now = GetCurrentTimestamp();
		/* Wake-ups for projections come often: look at the catalog at most each nap. */
		if (!ready || now >= next_ready_check)
		{
			ready = ExtensionReady();
			next_ready_check = now + es_worker_naptime * INT64CONST(1000);
		}
		projections = ready && es_projections_enabled && served_version >= PROJECTIONS_VERSION;
		if (ready)
		{
			if (es_redelivery_enabled && now >= next_redelivery)
			{
				RunPass(PASS_REDELIVERY, pass_cxt);
				next_redelivery = GetCurrentTimestamp() + es_worker_naptime * INT64CONST(1000);
			}
			if (es_retention_enabled && now >= next_retention)
			{
				RunPass(PASS_RETENTION, pass_cxt);
				next_retention = GetCurrentTimestamp() + es_retention_interval * USECS_PER_SEC;
			}
			/* Requested data migrations: looked for once per naptime. */
			if (served_version >= MIGRATIONS_VERSION && now >= next_migrations)
			{
				RunMigrations(pass_cxt);
				next_migrations = GetCurrentTimestamp() + es_worker_naptime * INT64CONST(1000);
			}
			/* After an error, wake-ups wait for the naptime: no error per commit. */
			if (projections && ((woken && !projection_error) || now >= next_projections))
			{
				projection_error = !RunProjections(pass_cxt);
				next_projections = GetCurrentTimestamp() + es_worker_naptime * INT64CONST(1000);
			}
		}
		MemoryContextSwitchTo(loop_cxt);
		now = GetCurrentTimestamp();
		/* Waiting for the extension: look again after a nap. */
		timeout_ms = es_worker_naptime;
		if (ready && es_redelivery_enabled)
			timeout_ms = Min(timeout_ms, (next_redelivery - now) / 1000);
		if (ready && es_retention_enabled)
			timeout_ms = Min(timeout_ms, (next_retention - now) / 1000);
		if (projections)
			timeout_ms = Min(timeout_ms, (next_projections - now) / 1000);
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   Max(timeout_ms, 1), EsWaitEvent(ES_WAIT_WORKER_NAP));
		ResetLatch(MyLatch);
		woken = (rc & WL_LATCH_SET) != 0;
	}
}

/*
 * es.worker_status() → one row per pass of this database's worker: its
 * process, runs, last run, rows changed, errors.  Empty columns when no
 * worker has run since the server started.
 */
PG_FUNCTION_INFO_V1(es_worker_status);
Datum
es_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EsWorkerSlot slot;
	bool		found = false;

	memset(&slot, 0, sizeof(slot));
	EsRequirePreloaded();
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SpinLockAcquire(&es_workers->mutex);
	for (int i = 0; i < ES_MAX_SERVED_DATABASES; i++)
	{
		if (es_workers->slot[i].dboid == MyDatabaseId)
		{
			slot = es_workers->slot[i];
			found = true;
		}
	}
	SpinLockRelease(&es_workers->mutex);

	for (int p = 0; p < NUM_PASSES; p++)
	{
		EsPassStatus *st = &slot.pass[p];
		Datum		values[11];
		bool		nulls[11];

		memset(nulls, !found, sizeof(nulls));
		values[0] = CStringGetTextDatum(pass_names[p]);
		nulls[0] = false;
		if (found)
		{
			values[1] = Int32GetDatum(slot.pid);
			nulls[1] = slot.pid == 0;
			values[2] = TimestampTzGetDatum(slot.started_at);
			values[3] = Int64GetDatum(st->runs);
			values[4] = TimestampTzGetDatum(st->last_start);
			nulls[4] = st->last_start == 0;
			values[5] = TimestampTzGetDatum(st->last_finish);
			nulls[5] = st->last_finish == 0;
			values[6] = Int64GetDatum(st->last_affected);
			nulls[6] = st->last_finish == 0;
			values[7] = Int64GetDatum(st->total_affected);
			values[8] = Int64GetDatum(st->errors);
			values[9] = CStringGetTextDatum(st->last_error);
			nulls[9] = st->errors == 0;
			values[10] = TimestampTzGetDatum(st->last_error_at);
			nulls[10] = st->errors == 0;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
