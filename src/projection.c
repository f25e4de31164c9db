/*
 * projection.c
 *	  Projections: a handler function fed the events of a source in global
 *	  order, its writes committed with the projection's position.
 *
 * A run locks the projection's row, reads the next events after its
 * position (EsReadGlobal: never past an event that can still commit),
 * calls the handler on each, and moves the position, all in the caller's
 * transaction: the read model and the position commit together or not at
 * all, so each event's effect is applied exactly once.
 *
 * The events of a batch go to the handler inside one subtransaction.  When
 * the handler fails, the subtransaction is rolled back and the events
 * before the failing one are applied again in a subtransaction of their
 * own; the failing event is then tried alone.  If it fails again, the
 * projection stops there (status 'failed', the error recorded) or, with
 * on_error 'park', the event goes to es.parked_events and the projection
 * goes on.  Nothing is ever skipped silently.  Errors that say nothing about
 * the event (a cancel, a serialization failure, a deadlock, lack of
 * resources) are raised, not recorded: the next run tries again.
 *
 * The worker runs each handler call as the projection's owner; a call of
 * es.run_projection runs it as the caller.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "parser/parse_func.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/guc.h"
#include "utils/typcache.h"
#include "commands/trigger.h"

#include "event_streaming.h"

#define COLUMNS "source, pg_catalog.to_regprocedure(handler)::pg_catalog.oid," \
	" owner::pg_catalog.oid, on_error, position, status, handler"

static EsPlan lock_plan = {
	.sql = "SELECT " COLUMNS " FROM es.projection_catalog"
	" WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan lock_skip_plan = {
	.sql = "SELECT " COLUMNS " FROM es.projection_catalog"
	" WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE SKIP LOCKED",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan insert_plan = {
	.sql = "INSERT INTO es.projection_catalog (name, source, handler, owner, on_error, position)"
	" VALUES ($1, $2, $3, $4::pg_catalog.regrole, $5, $6) ON CONFLICT DO NOTHING",
	.nargs = 6,
	.argtypes = {TEXTOID, TEXTOID, TEXTOID, OIDOID, TEXTOID, INT8OID}
};

static EsPlan advance_plan = {
	.sql = "UPDATE es.projection_catalog"
	" SET position = $2, events_applied = events_applied OPERATOR(pg_catalog.+) $3,"
	"     updated_at = pg_catalog.now()"
	" WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 3,
	.argtypes = {TEXTOID, INT8OID, INT8OID}
};

static EsPlan fail_plan = {
	.sql = "UPDATE es.projection_catalog"
	" SET status = 'failed', last_error = $2, error_position = $3,"
	"     error_at = pg_catalog.now(), updated_at = pg_catalog.now()"
	" WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 3,
	.argtypes = {TEXTOID, TEXTOID, INT8OID}
};

static EsPlan park_plan = {
	.sql = "INSERT INTO es.parked_events (projection, global_position, error)"
	" VALUES ($1, $2, $3) ON CONFLICT (projection, global_position)"
	" DO UPDATE SET error = EXCLUDED.error, parked_at = pg_catalog.now()",
	.nargs = 3,
	.argtypes = {TEXTOID, INT8OID, TEXTOID}
};

static EsPlan resume_plan = {
	.sql = "UPDATE es.projection_catalog"
	" SET status = 'running', last_error = NULL, error_position = NULL, error_at = NULL,"
	"     updated_at = pg_catalog.now()"
	" WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan rewind_plan = {
	.sql = "UPDATE es.projection_catalog"
	" SET position = 0, events_applied = 0, status = 'running', last_error = NULL,"
	"     error_position = NULL, error_at = NULL, updated_at = pg_catalog.now()"
	" WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan unpark_plan = {
	.sql = "DELETE FROM es.parked_events WHERE projection OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan drop_plan = {
	.sql = "DELETE FROM es.projection_catalog WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/* A quiet projection moves its position up when it is this far behind. */
#define IDLE_SKIP 1000

typedef struct Projection
{
	char	   *name;
	char	   *source;
	Oid			handler;		/* InvalidOid: the function is gone */
	char	   *handler_name;
	Oid			owner;
	bool		park;
	int64		position;
	bool		failed;
} Projection;

/*
 * Lock the projection's row and read it.  False when the worker finds it
 * locked (someone else runs it) or gone; an error for a caller.
 */
static bool
Lock(const char *name, Projection *p, bool skip_locked)
{
	Datum		values[1] = {CStringGetTextDatum(name)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	EsExecute(skip_locked ? &lock_skip_plan : &lock_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		if (skip_locked)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("projection \"%s\" does not exist", name)));
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	p->name = pstrdup(name);
	p->source = SPI_getvalue(tup, desc, 1);
	p->handler = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
	if (isnull)
		p->handler = InvalidOid;
	p->handler_name = SPI_getvalue(tup, desc, 7);
	p->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	p->park = strcmp(SPI_getvalue(tup, desc, 4), "park") == 0;
	p->position = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	p->failed = strcmp(SPI_getvalue(tup, desc, 6), "failed") == 0;
	return true;
}

/* Only the owner (or a member of the owner's role) manages a projection. */
static void
CheckOwner(const Projection *p)
{
	if (!has_privs_of_role(GetUserId(), p->owner))
	{
		char	   *owner = GetUserNameFromId(p->owner, true);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be a member of role \"%s\" to manage projection \"%s\"",
						owner ? owner : "(dropped)", p->name)));
	}
}

static Oid
EventTypeOid(void)
{
	return get_rel_type_id(EsRelationOid("event"));
}

/*
 * Errors that say nothing about the event, but about the moment or the
 * setup: raised again, never recorded, so that a projection that parks does
 * not park every event while a table or a grant is missing.
 */
static bool
Transient(int sqlerrcode)
{
	int			class = ERRCODE_TO_CATEGORY(sqlerrcode);

	return class == ERRCODE_CONNECTION_EXCEPTION ||	/* FDW, dblink */
		class == ERRCODE_TRANSACTION_ROLLBACK || /* deadlock, serialization */
		class == ERRCODE_INSUFFICIENT_RESOURCES ||
		class == ERRCODE_OPERATOR_INTERVENTION || /* cancel, shutdown */
		class == ERRCODE_SYSTEM_ERROR ||
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		sqlerrcode == ERRCODE_OBJECT_IN_USE ||
		sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION ||
		sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ||	/* a grant missing */
		sqlerrcode == ERRCODE_UNDEFINED_TABLE;	/* the read model missing */
}

/*
 * Call the handler on events [0, n) of tt, inside a subtransaction.  -1
 * when all were applied (and the subtransaction released); else the index
 * of the failing event, the subtransaction rolled back, *error its message.
 */
static int
ApplyEvents(const Projection *p, FmgrInfo *flinfo, TupleDesc desc, SPITupleTable *tt,
			int n, bool as_owner, char **error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	MemoryContext evcxt = AllocSetContextCreate(oldcxt, "event_streaming projection event",
												ALLOCSET_DEFAULT_SIZES);
	volatile int current = 0;
	int			failed = -1;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		for (; current < n; current++)
		{
			Datum		values[ES_EVENT_NATTS];
			bool		nulls[ES_EVENT_NATTS];
			Oid			save_userid;
			int			save_sec;
			int			nestlevel = -1;
			LOCAL_FCINFO(fcinfo, 1);

			MemoryContextSwitchTo(evcxt);
			EsEventValues(tt, current, values, nulls);
			InitFunctionCallInfoData(*fcinfo, flinfo, 1, InvalidOid, NULL, NULL);
			fcinfo->args[0].isnull = false;
			GetUserIdAndSecContext(&save_userid, &save_sec);
			if (as_owner)
			{
				/*
				 * Handlers of different owners share the worker's session: as
				 * for REFRESH MATERIALIZED VIEW, a handler runs as a
				 * restricted operation (no temporary objects, no SET ROLE)
				 * and its settings are undone after the call.  An error
				 * undoes both through the subtransaction's abort.  The
				 * upcasters run the same way, before it.
				 */
				SetUserIdAndSecContext(p->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
									   SECURITY_RESTRICTED_OPERATION);
				nestlevel = NewGUCNestLevel();
			}
			EsUpcast(values, nulls);
			fcinfo->args[0].value = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
			(void) FunctionCallInvoke(fcinfo);
			if (as_owner)
				AtEOXact_GUC(false, nestlevel);
			SetUserIdAndSecContext(save_userid, save_sec);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(evcxt);
			CHECK_FOR_INTERRUPTS();
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (Transient(edata->sqlerrcode))
			ReThrowError(edata);
		failed = current;
		*error = edata->message ? pstrdup(edata->message) : pstrdup("(no message)");
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextDelete(evcxt);
	return failed;
}

/* Stop the projection with an error (at an event, or -1). */
static void
Fail(const char *name, const char *error, int64 at)
{
	Datum		values[3] = {CStringGetTextDatum(name), CStringGetTextDatum(error),
	Int64GetDatum(at)};
	char		nulls[3] = {' ', ' ', at < 0 ? 'n' : ' '};

	EsExecute(&fail_plan, values, nulls, SPI_OK_UPDATE);
}

/*
 * Whether a role may read every event: through es.read_all (the right the
 * grant recipes give) or SELECT on es.events.
 */
static bool
MayReadEvents(Oid role)
{
	Oid			argtypes[] = {INT8OID, INT4OID, TEXTARRAYOID, TEXTARRAYOID};
	Oid			read_all = LookupFuncName(list_make2(makeString("es"), makeString("read_all")),
										  lengthof(argtypes), argtypes, true);

	if (OidIsValid(read_all) && EsProcAclCheck(read_all, role, ACL_EXECUTE) == ACLCHECK_OK)
		return true;
	return pg_class_aclcheck(EsRelationOid("events"), role, ACL_SELECT) == ACLCHECK_OK;
}

/*
 * What must hold before the handler runs: the function exists and, for the
 * worker, the owner still exists, may call it and may read the events.  A
 * message saying what is wrong, or NULL.
 */
static char *
CannotRun(const Projection *p, bool worker)
{
	if (!OidIsValid(p->handler))
		return psprintf("handler function %s does not exist", p->handler_name);
	if (!worker)
		return NULL;
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(p->owner)))
		return psprintf("the owner of the projection, role %u, does not exist", p->owner);
	if (EsProcAclCheck(p->handler, p->owner, ACL_EXECUTE) != ACLCHECK_OK)
		return psprintf("the owner of the projection may not execute %s", p->handler_name);
	if (!MayReadEvents(p->owner))
		return psprintf("the owner of the projection may not read events");
	return NULL;
}

static int64
EventPosition(SPITupleTable *tt, int i)
{
	bool		isnull;

	return DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
}

/*
 * Apply up to max_events events of the projection in the current
 * transaction; the worker skips a projection someone else is running and
 * calls the handler as the projection's owner.  Returns how many events
 * were handled (applied or parked).  Connects to SPI itself.
 */
int64
EsProjectionRun(const char *name, int max_events, bool worker)
{
	Projection	p;
	EsFilter	f;
	FmgrInfo	flinfo;
	TupleDesc	desc;
	int64		handled = 0;
	int64		applied = 0;
	int			limit = -1;		/* > 0: the events before a failing one */
	bool		moved = false;	/* the position moved past other sources' events */

	SPI_connect();
	if (!Lock(name, &p, worker))
	{
		SPI_finish();
		return 0;
	}
	if (!worker)
		CheckOwner(&p);
	if (p.failed)
	{
		SPI_finish();
		return 0;
	}
	{
		char	   *why = CannotRun(&p, worker);

		if (why != NULL)
		{
			ereport(WARNING,
					(errmsg("projection \"%s\" stopped: %s", name, why)));
			Fail(name, why, -1);
			SPI_finish();
			return 0;
		}
	}
	EsParseSource(p.source, &f);
	fmgr_info(p.handler, &flinfo);
	desc = lookup_rowtype_tupdesc_copy(EventTypeOid(), -1);

	while (handled < max_events)
	{
		int64		horizon;
		int			want = limit > 0 ? limit : (int) Min(max_events - handled, es_max_read_count);
		int			n = (int) EsReadGlobal(&f, p.position, want, &horizon, NULL);
		SPITupleTable *tt = SPI_tuptable;
		char	   *error = NULL;
		int			failed;

		if (n == 0)
		{
			/*
			 * Nothing of the source below the horizon: a projection of a
			 * quiet source moves up to it, so that its next read does not
			 * go over the same events of other sources again.  (Under
			 * REPEATABLE READ no rows may mean the caller's snapshot is old.)
			 */
			if (limit < 0 && horizon < PG_INT64_MAX && horizon - 1 - p.position >= IDLE_SKIP &&
				!IsolationUsesXactSnapshot())
			{
				p.position = horizon - 1;
				moved = true;
			}
			break;
		}
		failed = ApplyEvents(&p, &flinfo, desc, tt, n, worker, &error);
		if (failed < 0)
		{
			p.position = EventPosition(tt, n - 1);
			handled += n;
			applied += n;
			limit = -1;
		}
		else if (failed > 0)
		{
			/* Apply what came before it, then try it alone. */
			limit = failed;
		}
		else
		{
			int64		at = EventPosition(tt, 0);
			Datum		values[3];

			if (!p.park)
			{
				ereport(WARNING,
						(errmsg("projection \"%s\" stopped at the event at position %lld: %s",
								name, (long long) at, error)));
				Fail(name, error, at);
				break;
			}
			ereport(WARNING,
					(errmsg("projection \"%s\" parked the event at position %lld: %s",
							name, (long long) at, error)));
			values[0] = CStringGetTextDatum(name);
			values[1] = Int64GetDatum(at);
			values[2] = CStringGetTextDatum(error);
			EsExecute(&park_plan, values, NULL, SPI_OK_INSERT);
			p.position = at;
			handled++;
			limit = -1;
		}
		SPI_freetuptable(tt);
	}
	if (handled > 0 || moved)
	{
		Datum		values[3] = {CStringGetTextDatum(name), Int64GetDatum(p.position),
		Int64GetDatum(applied)};

		EsExecute(&advance_plan, values, NULL, SPI_OK_UPDATE);
	}
	SPI_finish();
	return handled;
}

/* es.create_projection(name, source, handler, on_error, start) */
PG_FUNCTION_INFO_V1(es_create_projection);
Datum
es_create_projection(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "projection name");
	char	   *source = EsTextArgNotNull(fcinfo, 1, "source");
	char	   *on_error = EsTextArgNotNull(fcinfo, 3, "on_error");
	char	   *start = EsTextArgNotNull(fcinfo, 4, "start");
	Oid			handler;
	HeapTuple	proctup;
	Form_pg_proc proc;
	AclResult	acl;
	EsFilter	f;
	Datum		values[6];

	EsParseNewSource(source, &f);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("handler must not be null")));
	handler = PG_GETARG_OID(2);
	if (strcmp(on_error, "stop") != 0 && strcmp(on_error, "park") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid on_error \"%s\"", on_error),
				 errhint("on_error is 'stop' or 'park'.")));

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(handler));
	if (!HeapTupleIsValid(proctup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", handler)));
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	if (proc->prokind != PROKIND_FUNCTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("handler %s is not a plain function", format_procedure(handler))));
	if (proc->pronargs != 1 || proc->proargtypes.values[0] != EventTypeOid() || proc->proretset)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("handler %s must take one argument of type es.event and return one value",
						format_procedure(handler))));
	ReleaseSysCache(proctup);
	acl = EsProcAclCheck(handler, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(handler));

	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(source);
	values[2] = CStringGetTextDatum(format_procedure_qualified(handler));
	values[3] = ObjectIdGetDatum(GetUserId());
	values[4] = CStringGetTextDatum(on_error);
	values[5] = Int64GetDatum(EsParseStart(start));
	EsExecute(&insert_plan, values, NULL, SPI_OK_INSERT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("projection \"%s\" already exists", name)));
	SPI_finish();
	EsWakeWorkerAtCommit();
	PG_RETURN_VOID();
}

/* es.run_projection(name, max_events) → events handled */
PG_FUNCTION_INFO_V1(es_run_projection);
Datum
es_run_projection(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "projection name");
	int32		max_events;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_events must not be null")));
	max_events = PG_GETARG_INT32(1);
	if (max_events < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_events must be at least 1"),
				 errdetail("Got %d.", max_events)));
	PG_RETURN_INT64(EsProjectionRun(name, max_events, false));
}

/* Lock a projection its caller manages, run one plan on it, wake the worker. */
static void
Manage(FunctionCallInfo fcinfo, EsPlan *plan, int expected)
{
	char	   *name = EsNameArg(fcinfo, 0, "projection name");
	Projection	p;
	Datum		values[1] = {CStringGetTextDatum(name)};

	SPI_connect();
	Lock(name, &p, false);
	CheckOwner(&p);
	EsExecute(plan, values, NULL, expected);
	SPI_finish();
	EsWakeWorkerAtCommit();
}

/* es.resume_projection(name) */
PG_FUNCTION_INFO_V1(es_resume_projection);
Datum
es_resume_projection(PG_FUNCTION_ARGS)
{
	Manage(fcinfo, &resume_plan, SPI_OK_UPDATE);
	PG_RETURN_VOID();
}

/* es.drop_projection(name) */
PG_FUNCTION_INFO_V1(es_drop_projection);
Datum
es_drop_projection(PG_FUNCTION_ARGS)
{
	Manage(fcinfo, &drop_plan, SPI_OK_DELETE);
	PG_RETURN_VOID();
}

/*
 * es.rebuild_projection(name, clear): empty the given tables (TRUNCATE, as
 * the caller), forget parked events and errors, start again from the
 * beginning.  Tables of schema es are refused.
 */
PG_FUNCTION_INFO_V1(es_rebuild_projection);
Datum
es_rebuild_projection(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "projection name");
	Projection	p;
	Datum		values[1] = {CStringGetTextDatum(name)};
	Oid			es_nsp = get_namespace_oid("es", false);

	SPI_connect();
	Lock(name, &p, false);
	CheckOwner(&p);
	if (!PG_ARGISNULL(1))
	{
		ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);
		Datum	   *rels;
		bool	   *nulls;
		int			n;
		StringInfoData sql;

		deconstruct_array(a, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &rels, &nulls, &n);
		initStringInfo(&sql);
		appendStringInfoString(&sql, "TRUNCATE TABLE ");
		for (int i = 0; i < n; i++)
		{
			Oid			rel = nulls[i] ? InvalidOid : DatumGetObjectId(rels[i]);
			char	   *relname = OidIsValid(rel) ? get_rel_name(rel) : NULL;
			char	   *nspname = OidIsValid(rel) ? get_namespace_name(get_rel_namespace(rel)) : NULL;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("the tables to clear must not contain null"),
						 errdetail("Element %d of the array is null.", i + 1)));

			if (relname == NULL || nspname == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_TABLE),
						 errmsg("table %u to clear does not exist", rel),
						 errdetail("It is element %d of the array.", i + 1)));
			if (get_rel_namespace(rel) == es_nsp)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cannot clear table \"es.%s\"", relname),
						 errdetail("Tables of schema es belong to event_streaming.")));
			appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
							 quote_qualified_identifier(nspname, relname));
		}
		if (n > 0 && SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not clear the tables of projection \"%s\"", name);
	}
	EsExecute(&rewind_plan, values, NULL, SPI_OK_UPDATE);
	EsExecute(&unpark_plan, values, NULL, SPI_OK_DELETE);
	SPI_finish();
	EsWakeWorkerAtCommit();
	PG_RETURN_VOID();
}

/*
 * es.projection_catalog_guard(): a trigger on es.projection_catalog (and,
 * with the argument 'data migration', on es.data_migration_catalog).  The
 * worker calls a projection's handler as its owner, so a row may only name
 * an owner whose rights the writer has, and only such a writer may change
 * a row: a role allowed to write the table cannot borrow another's rights.
 */
PG_FUNCTION_INFO_V1(es_projection_catalog_guard);
Datum
es_projection_catalog_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	int			owner_att;
	bool		isnull;
	HeapTuple	result;
	const char *what;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trig->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trig->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es.projection_catalog_guard must run as a row trigger before the change")));
	/* The kind of row, for the message: the trigger's argument. */
	what = trig->tg_trigger->tgnargs > 0 ? trig->tg_trigger->tgargs[0] : "projection";
	desc = RelationGetDescr(trig->tg_relation);
	owner_att = SPI_fnumber(desc, "owner");
	if (owner_att <= 0)
		elog(ERROR, "es.projection_catalog has no owner column");
	result = TRIGGER_FIRED_BY_UPDATE(trig->tg_event) ? trig->tg_newtuple : trig->tg_trigtuple;
	for (int i = 0; i < (TRIGGER_FIRED_BY_UPDATE(trig->tg_event) ? 2 : 1); i++)
	{
		HeapTuple	tup = i == 0 ? result : trig->tg_trigtuple;
		Oid			owner = DatumGetObjectId(heap_getattr(tup, owner_att, desc, &isnull));

		if (isnull || !has_privs_of_role(EsCaller(), owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be a member of the owner of a %s to write it", what),
					 errdetail("The worker runs a %s with its owner's rights.", what)));
	}
	return PointerGetDatum(result);
}
