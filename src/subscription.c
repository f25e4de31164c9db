/*
 * subscription.c
 *	  Subscriptions: named readers of '$all', a category or a stream in
 *	  global order, with a committed position per member of the group.
 *
 * Member k of a group of n reads only the streams s with
 * es.member_of(s, n) = k, so each stream stays in order within one member.
 * Reads go through EsReadGlobal and keep its guarantee: a member that
 * commits the last position it received and reads again never misses an
 * event.  A commit may not go back (es.reset_subscription does), nor past
 * the settled position, where a lower event could still commit.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "event_streaming.h"

#define MAX_MEMBERS 1024

static EsPlan lookup_plan = {
	.sql = "SELECT source, members FROM es.subscription_catalog"
	" WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan position_plan = {
	.sql = "SELECT position FROM es.subscription_positions"
	" WHERE subscription OPERATOR(pg_catalog.=) $1 AND member OPERATOR(pg_catalog.=) $2",
	.nargs = 2,
	.argtypes = {TEXTOID, INT4OID}
};

static EsPlan lock_position_plan = {
	.sql = "SELECT position FROM es.subscription_positions"
	" WHERE subscription OPERATOR(pg_catalog.=) $1 AND member OPERATOR(pg_catalog.=) $2"
	" FOR UPDATE",
	.nargs = 2,
	.argtypes = {TEXTOID, INT4OID}
};

static EsPlan insert_plan = {
	.sql = "INSERT INTO es.subscription_catalog (name, source, members)"
	" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
	.nargs = 3,
	.argtypes = {TEXTOID, TEXTOID, INT4OID}
};

static EsPlan insert_positions_plan = {
	.sql = "INSERT INTO es.subscription_positions (subscription, member, position)"
	" SELECT $1, g, $2 FROM pg_catalog.generate_series(0, $3 OPERATOR(pg_catalog.-) 1) g",
	.nargs = 3,
	.argtypes = {TEXTOID, INT8OID, INT4OID}
};

static EsPlan commit_plan = {
	.sql = "UPDATE es.subscription_positions"
	" SET position = $3, commits = commits OPERATOR(pg_catalog.+) 1,"
	"     last_commit_at = pg_catalog.now()"
	" WHERE subscription OPERATOR(pg_catalog.=) $1 AND member OPERATOR(pg_catalog.=) $2",
	.nargs = 3,
	.argtypes = {TEXTOID, INT4OID, INT8OID}
};

static EsPlan reset_plan = {
	.sql = "UPDATE es.subscription_positions SET position = $2"
	" WHERE subscription OPERATOR(pg_catalog.=) $1"
	"   AND ($3::pg_catalog.int4 IS NULL OR member OPERATOR(pg_catalog.=) $3)",
	.nargs = 3,
	.argtypes = {TEXTOID, INT8OID, INT4OID}
};

static EsPlan drop_plan = {
	.sql = "DELETE FROM es.subscription_catalog WHERE name OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

typedef struct Subscription
{
	char	   *name;
	char	   *source;
	int32		members;
} Subscription;

/* The subscription, or an error naming it.  Caller is in SPI. */
static void
LookUp(const char *name, Subscription *sub)
{
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;

	EsExecute(&lookup_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("subscription \"%s\" does not exist", name)));
	sub->name = pstrdup(name);
	sub->source = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	sub->members = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
}

/* A member argument: NULL (when allowed) gives -1. */
static int32
MemberArg(FunctionCallInfo fcinfo, int argno, const Subscription *sub, bool null_ok)
{
	int32		member;

	if (PG_ARGISNULL(argno))
	{
		if (null_ok)
			return -1;
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("member must not be null")));
	}
	member = PG_GETARG_INT32(argno);
	if (member < 0 || member >= sub->members)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("member must be between 0 and %d", sub->members - 1),
				 errdetail_plural("Subscription \"%s\" has %d member; got %d.",
								  "Subscription \"%s\" has %d members; got %d.",
								  sub->members, sub->name, sub->members, member)));
	return member;
}

/* The member's committed position, locked against other commits if asked. */
static int64
Position(const Subscription *sub, int32 member, bool lock)
{
	Datum		values[2] = {CStringGetTextDatum(sub->name), Int32GetDatum(member)};
	bool		isnull;

	EsExecute(lock ? &lock_position_plan : &position_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		elog(ERROR, "subscription \"%s\" has no position for member %d", sub->name, member);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* es.create_subscription(name, source, start, members) */
PG_FUNCTION_INFO_V1(es_create_subscription);
Datum
es_create_subscription(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "subscription name");
	char	   *source = EsTextArgNotNull(fcinfo, 1, "source");
	char	   *start = EsTextArgNotNull(fcinfo, 2, "start");
	int32		members;
	EsFilter	f;
	Datum		values[3];

	EsParseNewSource(source, &f);
	members = EsIntArg(fcinfo, 3, "members", 1, MAX_MEMBERS, NULL);

	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(source);
	values[2] = Int32GetDatum(members);
	EsExecute(&insert_plan, values, NULL, SPI_OK_INSERT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("subscription \"%s\" already exists", name)));
	values[1] = Int64GetDatum(EsParseStart(start));
	EsExecute(&insert_positions_plan, values, NULL, SPI_OK_INSERT);
	SPI_finish();
	PG_RETURN_VOID();
}

/* es.read_subscription(name, max_count, member, members) */
PG_FUNCTION_INFO_V1(es_read_subscription);
Datum
es_read_subscription(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "subscription name");
	int			max_count;
	Subscription sub;
	EsFilter	f;
	int32		member;
	int64		position;

	max_count = EsMaxCountArg(fcinfo, 1);

	SPI_connect();
	LookUp(name, &sub);
	if (!PG_ARGISNULL(3) && PG_GETARG_INT32(3) != sub.members)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("subscription \"%s\" has %d member, not %d",
							   "subscription \"%s\" has %d members, not %d",
							   sub.members, name, sub.members, PG_GETARG_INT32(3)),
				 errhint("Drop and create the subscription to change the size of its group.")));
	member = MemberArg(fcinfo, 2, &sub, false);
	position = Position(&sub, member, false);
	EsParseSource(sub.source, &f);
	f.members = sub.members;
	f.member = member;
	EsReturnGlobal(fcinfo, &f, position, max_count);
	SPI_finish();
	return (Datum) 0;
}

/* es.commit_subscription(name, position, member) */
PG_FUNCTION_INFO_V1(es_commit_subscription);
Datum
es_commit_subscription(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "subscription name");
	Subscription sub;
	int32		member;
	int64		position;
	int64		committed;
	int64		settled;
	Datum		values[3];

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("position must not be null")));
	position = PG_GETARG_INT64(1);

	SPI_connect();
	LookUp(name, &sub);
	member = MemberArg(fcinfo, 2, &sub, false);
	committed = Position(&sub, member, true);
	if (position < committed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot move subscription \"%s\" back from position %lld to %lld",
						name, (long long) committed, (long long) position),
				 errhint("es.reset_subscription sets any position.")));
	settled = EsSettledPosition();
	if (position > settled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot commit position %lld of subscription \"%s\": it is not settled",
						(long long) position, name),
				 errdetail("Every position up to %lld is settled; a transaction in flight may still commit an event below %lld.",
						   (long long) settled, (long long) position),
				 errhint("Commit the last position es.read_subscription returned.")));
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(member);
	values[2] = Int64GetDatum(position);
	EsExecute(&commit_plan, values, NULL, SPI_OK_UPDATE);
	SPI_finish();
	PG_RETURN_VOID();
}

/* es.reset_subscription(name, start, member) */
PG_FUNCTION_INFO_V1(es_reset_subscription);
Datum
es_reset_subscription(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "subscription name");
	char	   *start = EsTextArgNotNull(fcinfo, 1, "start");
	Subscription sub;
	int32		member;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	SPI_connect();
	LookUp(name, &sub);
	member = MemberArg(fcinfo, 2, &sub, true);
	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum(EsParseStart(start));
	values[2] = Int32GetDatum(member);
	if (member < 0)
		nulls[2] = 'n';
	EsExecute(&reset_plan, values, nulls, SPI_OK_UPDATE);
	SPI_finish();
	PG_RETURN_VOID();
}

/* es.drop_subscription(name) */
PG_FUNCTION_INFO_V1(es_drop_subscription);
Datum
es_drop_subscription(PG_FUNCTION_ARGS)
{
	char	   *name = EsNameArg(fcinfo, 0, "subscription name");
	Datum		values[1] = {CStringGetTextDatum(name)};

	SPI_connect();
	EsExecute(&drop_plan, values, NULL, SPI_OK_DELETE);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("subscription \"%s\" does not exist", name)));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * es.member_of(stream, members) → the member (0 .. members - 1) of a group
 * of members consumers that the stream belongs to: its name's hash modulo
 * members.  The hash is hashtextextended(stream, 0), as 0.4.0's SQL
 * function had it, so members keep their streams across the upgrade.
 */
PG_FUNCTION_INFO_V1(es_member_of);
Datum
es_member_of(PG_FUNCTION_ARGS)
{
	int32		members = EsIntArg(fcinfo, 1, "members", 1, MAX_MEMBERS, NULL);
	int64		h;

	/* Any deterministic collation hashes the bytes; C is one. */
	h = DatumGetInt64(DirectFunctionCall2Coll(hashtextextended, C_COLLATION_OID,
											  PG_GETARG_DATUM(0), Int64GetDatum(0)));
	PG_RETURN_INT32((int32) (((h % members) + members) % members));
}
