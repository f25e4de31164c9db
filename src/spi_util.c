/*
 * spi_util.c
 *	  Saved SPI plans and catalog look-ups.
 *
 * Every statement the extension runs is fully schema-qualified (operators
 * included, as OPERATOR(pg_catalog.=)), prepared on first use and kept for
 * the life of the backend, so a hot path plans nothing and a hostile
 * search_path changes nothing.  Values always travel as parameters.
 *
 * The statements run as the owner of es's tables (the role that created the
 * extension): EXECUTE on an es function is the right to do what it does, and
 * no role needs privileges on es's tables.  Only these fixed statements run
 * so; user code (projection handlers, upcasters, data-migration steps, the
 * output functions of captured rows) runs as its caller or its owner.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "event_streaming.h"

/* The plan of a statement, prepared and saved the first time it is needed. */
SPIPlanPtr
EsPreparedPlan(EsPlan *p)
{
	if (p->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(p->sql, p->nargs, p->argtypes,
											  p->cursor_options);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 p->sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		p->plan = plan;
	}
	return p->plan;
}

/* The role that called the API, while its statements run as es's owner. */
static Oid	es_caller = InvalidOid;

/*
 * Who is acting: the caller of the API function, also inside the statements
 * it runs as es's owner (for the triggers on es's tables that check rights).
 */
Oid
EsCaller(void)
{
	return OidIsValid(es_caller) ? es_caller : GetUserId();
}

/*
 * The owner of es's tables: the role that created the extension (the
 * schema may be older and another role's, CREATE EXTENSION reuses it).
 */
static Oid
TablesOwner(void)
{
	Oid			relid = EsRelationOid("events");
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* The user to come back to after a statement run as es's owner. */
typedef struct SavedUser
{
	Oid			userid;
	int			sec_context;
	Oid			caller;
} SavedUser;

/*
 * Become the owner of es's tables, as a restricted operation (like a
 * maintenance command run as a table's owner).
 */
static void
BecomeOwner(SavedUser *saved)
{
	Oid			owner = TablesOwner();

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	saved->caller = es_caller;
	if (!OidIsValid(es_caller))
		es_caller = saved->userid;
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

static void
RestoreUser(const SavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
	es_caller = saved->caller;
}

/*
 * Run a saved plan as the owner of es's tables; the user is restored when it
 * returns or fails.  snap: InvalidSnapshot for the current snapshot rules,
 * else the snapshot to run under.  Returns SPI's result code.
 */
int
EsRun(EsPlan *p, Datum *values, const char *nulls, bool read_only,
	  Snapshot snap, long tcount)
{
	SavedUser	saved;
	volatile int rc;

	BecomeOwner(&saved);
	PG_TRY();
	{
		/* Planned as the owner too: parse analysis checks USAGE on es. */
		SPIPlanPtr	plan = EsPreparedPlan(p);

		if (snap == InvalidSnapshot)
			rc = SPI_execute_plan(plan, values, nulls, read_only, tcount);
		else
			rc = SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot,
									  read_only, true, tcount);
	}
	PG_FINALLY();
	{
		RestoreUser(&saved);
	}
	PG_END_TRY();
	return rc;
}

/* EsRun with SPI_execute_plan_extended's options (params, dest...). */
int
EsRunExtended(EsPlan *p, const SPIExecuteOptions *options)
{
	SavedUser	saved;
	volatile int rc;

	BecomeOwner(&saved);
	PG_TRY();
	{
		rc = SPI_execute_plan_extended(EsPreparedPlan(p), options);
	}
	PG_FINALLY();
	{
		RestoreUser(&saved);
	}
	PG_END_TRY();
	return rc;
}

/*
 * Run a saved plan under the current snapshot rules (a new snapshot per
 * statement in READ COMMITTED), failing unless it returns expected_rc.
 */
void
EsExecute(EsPlan *p, Datum *values, const char *nulls, int expected_rc)
{
	int			rc = EsRun(p, values, nulls, false, InvalidSnapshot, 0);

	if (rc != expected_rc)
		elog(ERROR, "statement failed: %s: %s", SPI_result_code_string(rc), p->sql);
}

/*
 * Whether a table of schema es has a column.  The library may be newer than
 * the extension installed in a database (between make install and ALTER
 * EXTENSION UPDATE), so code that reads a column added by a later version
 * asks first.
 */
bool
EsHasColumn(const char *relname, const char *attname)
{
	return get_attnum(EsRelationOid(relname), attname) != InvalidAttrNumber;
}

/* OID of a relation of schema es; looked up each call, it is cheap and safe. */
Oid
EsRelationOid(const char *relname)
{
	Oid			nsp = get_namespace_oid("es", false);
	Oid			relid = get_relname_relid(relname, nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "relation es.%s does not exist", relname);
	return relid;
}
