/*
 * migration.c
 *	  Data migrations: es.register_data_migration, es.drop_data_migration,
 *	  CALL es.run_data_migrations(), es.request_data_migrations(), and the
 *	  steps the worker runs on request.
 *
 * A data migration is a procedure (or function) without arguments, run once
 * in run_order.  Each run of a step is two transactions: the first records
 * it running (status, started_at, attempts) and commits, so it can be seen
 * while it works; the second runs it in a subtransaction and records
 * finished, or rolls its changes back and records failed with the error.  A
 * failure stops the run; the next run starts again at the failed step.
 *
 * One runner at a time per database: a session lock, held across the
 * steps' commits, keeps a CALL and the worker from running steps side by
 * side.  A step left 'running' by a crash is simply run again.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "event_streaming.h"

/* locktag_field4 of the runner's lock (stream locks use 0x4553). */
#define ES_LOCKTAG_MIGRATIONS 0x4554

static EsPlan next_plan = {
	.sql = "SELECT name, pg_catalog.to_regprocedure(procedure)::pg_catalog.oid, procedure,"
	"       owner::pg_catalog.oid, requested_at IS NOT NULL"
	"  FROM es.data_migration_catalog"
	" WHERE status OPERATOR(pg_catalog.<>) 'finished'"
	" ORDER BY run_order LIMIT 1",
	.nargs = 0
};

static EsPlan start_plan = {
	.sql = "UPDATE es.data_migration_catalog"
	"   SET status = 'running', started_at = pg_catalog.clock_timestamp(), finished_at = NULL,"
	"       attempts = attempts OPERATOR(pg_catalog.+) 1"
	" WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan finish_plan = {
	.sql = "UPDATE es.data_migration_catalog"
	"   SET status = 'finished', finished_at = pg_catalog.clock_timestamp(),"
	"       last_error = NULL, last_sqlstate = NULL, requested_at = NULL"
	" WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/*
 * A failure also ends the request to the worker, so it does not retry
 * alone: for the steps the runner may write (the owner guard's rule).
 */
static EsPlan fail_plan = {
	.sql = "UPDATE es.data_migration_catalog"
	"   SET status = CASE WHEN name OPERATOR(pg_catalog.=) $1 THEN 'failed' ELSE status END,"
	"       finished_at = CASE WHEN name OPERATOR(pg_catalog.=) $1"
	"                     THEN pg_catalog.clock_timestamp() ELSE finished_at END,"
	"       last_error = CASE WHEN name OPERATOR(pg_catalog.=) $1 THEN $2 ELSE last_error END,"
	"       last_sqlstate = CASE WHEN name OPERATOR(pg_catalog.=) $1 THEN $3 ELSE last_sqlstate END,"
	"       requested_at = NULL"
	" WHERE name OPERATOR(pg_catalog.=) $1"
	"    OR (requested_at IS NOT NULL"
	"        AND pg_catalog.pg_has_role($4, owner::pg_catalog.oid, 'USAGE'))",
	.nargs = 4,
	.argtypes = {TEXTOID, TEXTOID, TEXTOID, OIDOID}
};

static EsPlan taken_plan = {
	.sql = "SELECT name FROM es.data_migration_catalog"
	" WHERE name OPERATOR(pg_catalog.=) $1 OR run_order OPERATOR(pg_catalog.=) $2",
	.nargs = 2,
	.argtypes = {TEXTOID, INT4OID}
};

static EsPlan insert_plan = {
	.sql = "INSERT INTO es.data_migration_catalog (name, run_order, procedure, owner)"
	" VALUES ($1, $2, $3, $4)",
	.nargs = 4,
	.argtypes = {TEXTOID, INT4OID, TEXTOID, OIDOID}
};

static EsPlan owner_plan = {
	.sql = "SELECT owner::pg_catalog.oid FROM es.data_migration_catalog"
	" WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan delete_plan = {
	.sql = "DELETE FROM es.data_migration_catalog WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan request_plan = {
	.sql = "UPDATE es.data_migration_catalog SET requested_at = pg_catalog.now()"
	" WHERE status OPERATOR(pg_catalog.<>) 'finished'"
	"   AND pg_catalog.pg_has_role($1, owner::pg_catalog.oid, 'USAGE')",
	.nargs = 1,
	.argtypes = {OIDOID}
};

static EsPlan requested_plan = {
	.sql = "SELECT 1 FROM es.data_migration_catalog"
	" WHERE requested_at IS NOT NULL AND status OPERATOR(pg_catalog.<>) 'finished' LIMIT 1",
	.nargs = 0
};

static void
RunnerTag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, 0, 0, ES_LOCKTAG_MIGRATIONS);
}

/* Take the runner's session lock; false if busy and !wait. */
bool
EsMigrationLock(bool wait)
{
	LOCKTAG		tag;

	RunnerTag(&tag);
	return LockAcquire(&tag, ExclusiveLock, true, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

void
EsMigrationUnlock(void)
{
	LOCKTAG		tag;

	RunnerTag(&tag);
	(void) LockRelease(&tag, ExclusiveLock, true);
}

/* Whether the worker has been asked to run steps.  Caller is in SPI. */
bool
EsMigrationRequested(void)
{
	EsExecute(&requested_plan, NULL, NULL, SPI_OK_SELECT);
	return SPI_processed > 0;
}

/*
 * The first step not finished, in cxt, recorded as running.  False when
 * there is none (or, for requested_only, when it was not requested).
 * Caller is in SPI.
 */
bool
EsMigrationNext(bool requested_only, EsMigrationStep *step, MemoryContext cxt)
{
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		values[1];
	MemoryContext old;

	EsExecute(&next_plan, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (requested_only && !DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull)))
		return false;
	old = MemoryContextSwitchTo(cxt);
	step->name = SPI_getvalue(tup, desc, 1);
	step->proc = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
	if (isnull)
		step->proc = InvalidOid;
	step->proc_name = SPI_getvalue(tup, desc, 3);
	step->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
	MemoryContextSwitchTo(old);
	values[0] = CStringGetTextDatum(step->name);
	EsExecute(&start_plan, values, NULL, SPI_OK_UPDATE);
	return true;
}

/* Record a failure without running anything (the step cannot run at all). */
static ErrorData *
CannotRun(int sqlerrcode, const char *fmt, const char *arg)
{
	ErrorData  *e = palloc0(sizeof(ErrorData));

	e->sqlerrcode = sqlerrcode;
	e->message = psprintf(fmt, arg);
	return e;
}

/*
 * Run the step in a subtransaction and record the outcome.  as_owner: run
 * it as the step's owner, as a restricted operation with its settings
 * undone after (the worker); else as the current user.  Returns NULL on
 * success, else the error (in cxt).  Caller is in SPI, in a transaction
 * with an active snapshot.
 */
ErrorData *
EsMigrationRun(const EsMigrationStep *step, bool as_owner, MemoryContext cxt)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			runner = as_owner ? step->owner : GetUserId();
	ErrorData  *volatile error = NULL;
	Datum		values[4];

	if (!OidIsValid(step->proc))
		error = CannotRun(ERRCODE_UNDEFINED_FUNCTION, "procedure %s does not exist",
						  step->proc_name);
	else if (EsProcAclCheck(step->proc, runner, ACL_EXECUTE) != ACLCHECK_OK)
		error = CannotRun(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for procedure %s",
						  step->proc_name);
	else
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcxt);
		PG_TRY();
		{
			Oid			save_userid;
			int			save_sec;
			int			nestlevel = -1;
			FmgrInfo	flinfo;
			LOCAL_FCINFO(fc, 0);

			GetUserIdAndSecContext(&save_userid, &save_sec);
			if (as_owner)
			{
				SetUserIdAndSecContext(step->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
									   SECURITY_RESTRICTED_OPERATION);
				nestlevel = NewGUCNestLevel();
			}
			fmgr_info(step->proc, &flinfo);
			InitFunctionCallInfoData(*fc, &flinfo, 0, InvalidOid, NULL, NULL);
			(void) FunctionCallInvoke(fc);
			if (as_owner)
				AtEOXact_GUC(false, nestlevel);
			SetUserIdAndSecContext(save_userid, save_sec);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			error = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_END_TRY();
	}

	values[0] = CStringGetTextDatum(step->name);
	if (error == NULL)
	{
		EsExecute(&finish_plan, values, NULL, SPI_OK_UPDATE);
		return NULL;
	}
	values[1] = CStringGetTextDatum(error->message ? error->message : "(no message)");
	values[2] = CStringGetTextDatum(unpack_sql_state(error->sqlerrcode));
	values[3] = ObjectIdGetDatum(GetUserId());	/* the runner, not es's owner */
	EsExecute(&fail_plan, values, NULL, SPI_OK_UPDATE);
	return error;
}

/*
 * es.register_data_migration(name, run_order, procedure): a step to run
 * once, after the steps of lower run_order, as the caller (or, by the
 * worker, as the caller's role).
 */
PG_FUNCTION_INFO_V1(es_register_data_migration);
Datum
es_register_data_migration(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "data migration name");
	int32		run_order;
	Oid			proc;
	HeapTuple	proctup;
	Form_pg_proc form;
	AclResult	acl;
	Datum		values[4];

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("run_order must not be null")));
	run_order = PG_GETARG_INT32(1);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("procedure must not be null")));
	proc = PG_GETARG_OID(2);
	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(proc));
	if (!HeapTupleIsValid(proctup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", proc)));
	form = (Form_pg_proc) GETSTRUCT(proctup);
	if (form->prokind != PROKIND_PROCEDURE && form->prokind != PROKIND_FUNCTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a procedure or a plain function", format_procedure(proc))));
	if (form->pronargs != 0 || form->proretset)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("data migration %s must take no arguments and return no set",
						format_procedure(proc))));
	ReleaseSysCache(proctup);
	acl = EsProcAclCheck(proc, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(proc));

	SPI_connect();
	LockRelationOid(EsRelationOid("data_migration_catalog"), ShareRowExclusiveLock);
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(run_order);
	EsExecute(&taken_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		char	   *other = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (strcmp(other, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("data migration \"%s\" already exists", name)));
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("run_order %d is taken by data migration \"%s\"", run_order, other)));
	}
	values[2] = CStringGetTextDatum(format_procedure_qualified(proc));
	values[3] = ObjectIdGetDatum(GetUserId());
	EsExecute(&insert_plan, values, NULL, SPI_OK_INSERT);
	SPI_finish();
	PG_RETURN_VOID();
}

/* es.drop_data_migration(name): by a member of its owner. */
PG_FUNCTION_INFO_V1(es_drop_data_migration);
Datum
es_drop_data_migration(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "data migration name");
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	Oid			owner;

	SPI_connect();
	EsExecute(&owner_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("data migration \"%s\" does not exist", name)));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be a member of the owner of data migration \"%s\" to drop it", name)));
	EsExecute(&delete_plan, values, NULL, SPI_OK_DELETE);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * CALL es.run_data_migrations(): run every step not finished, in order, as
 * the caller, each in its own transaction.  A failed step is recorded, then
 * raised, and the steps after it wait for the next run.
 */
PG_FUNCTION_INFO_V1(es_run_data_migrations);
Datum
es_run_data_migrations(PG_FUNCTION_ARGS)
{
	bool		nonatomic = fcinfo->context != NULL && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
	MemoryContext cxt;
	EsMigrationStep step;
	ErrorData  *volatile failed = NULL;
	char	   *volatile failed_name = NULL;

	if (!nonatomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("es.run_data_migrations() must be called with CALL outside a transaction block"),
				 errdetail("Each step runs in a transaction of its own.")));
	/* Lives across the steps' commits, like the SPI procedure context. */
	cxt = AllocSetContextCreate(PortalContext, "event_streaming data migrations",
								ALLOCSET_SMALL_SIZES);
	SPI_connect_ext(SPI_OPT_NONATOMIC);
	(void) EsMigrationLock(true);
	PG_TRY();
	{
		for (;;)
		{
			bool		found;

			PushActiveSnapshot(GetTransactionSnapshot());
			found = EsMigrationNext(false, &step, cxt);
			PopActiveSnapshot();
			if (!found)
				break;
			SPI_commit();
			PushActiveSnapshot(GetTransactionSnapshot());
			failed = EsMigrationRun(&step, false, cxt);
			PopActiveSnapshot();
			SPI_commit();
			if (failed != NULL)
			{
				failed_name = step.name;
				break;
			}
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		EsMigrationUnlock();
	}
	PG_END_TRY();
	SPI_finish();
	if (failed != NULL)
		ereport(ERROR,
				(errcode(failed->sqlerrcode),
				 errmsg("data migration \"%s\" failed: %s", failed_name, failed->message),
				 failed->detail ? errdetail_internal("%s", failed->detail) : 0,
				 errhint("The failure is recorded in es.data_migrations; fix the cause and run again.")));
	PG_RETURN_VOID();
}

/*
 * es.request_data_migrations() → how many steps wait: the worker runs them
 * (as their owners) at its next round.  Only the caller's own steps (those
 * of roles it is a member of) are marked.
 */
PG_FUNCTION_INFO_V1(es_request_data_migrations);
Datum
es_request_data_migrations(PG_FUNCTION_ARGS)
{
	int64		n;
	Datum		caller = ObjectIdGetDatum(GetUserId());

	SPI_connect();
	EsExecute(&request_plan, &caller, NULL, SPI_OK_UPDATE);
	n = (int64) SPI_processed;
	SPI_finish();
	if (n > 0)
		EsWakeWorkerAtCommit();
	PG_RETURN_INT32((int32) n);
}
