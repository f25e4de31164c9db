/*
 * spi_util.c
 *	  Saved SPI plans and catalog look-ups.
 *
 * Every statement the extension runs is fully schema-qualified (operators
 * included, as OPERATOR(pg_catalog.=)), prepared on first use and kept for
 * the life of the backend, so a hot path plans nothing and a hostile
 * search_path changes nothing.  Values always travel as parameters.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"

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

/*
 * Run a saved plan under the current snapshot rules (a new snapshot per
 * statement in READ COMMITTED), failing unless it returns expected_rc.
 */
void
EsExecute(EsPlan *p, Datum *values, const char *nulls, int expected_rc)
{
	int			rc = SPI_execute_plan(EsPreparedPlan(p), values, nulls, false, 0);

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
