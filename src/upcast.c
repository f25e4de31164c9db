/*
 * upcast.c
 *	  Event schema versions: es.register_upcaster, es.drop_upcaster, and the
 *	  upcasting every read path applies.
 *
 * A type's chain is a run of steps from_version → from_version + 1, without
 * gaps; its current version is one past the last step (1 without steps).
 * Appends stamp events with the current version.  Reads hand the stored data
 * through the steps an event is behind and report the current version; the
 * stored row never changes, and es.read_stream_raw shows it as stored.
 *
 * The chains are cached per backend.  A statement trigger on es.upcasters
 * sends a relcache invalidation for the table on any change (the functions
 * below, a hand edit, a restore), and the callback drops the cache, so every
 * backend reloads after the change commits, and the changing one at its next
 * command.  Any change to pg_proc drops it too: a step's function may have
 * been dropped, or created again under its signature.  The cache is read straight from the table: reading events does
 * not need a grant on es.upcasters.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "event_streaming.h"

/* One step: the function turning version from into from + 1. */
typedef struct UpcastStep
{
	char	   *signature;		/* as registered */
	Oid			fn;				/* InvalidOid: dropped since */
	bool		with_metadata;
	FmgrInfo	flinfo;
} UpcastStep;

typedef struct UpcastChain
{
	char		event_type[ES_MAX_NAME_BYTES + 1];	/* hash key */
	int32		first;			/* from_version of steps[0] */
	int32		current;		/* one past the last step */
	int32		gap;			/* > 0: no step from this version (hand edit) */
	int			nsteps;
	int			allocated;
	UpcastStep *steps;
} UpcastChain;

static MemoryContext cache_cxt;
static HTAB *chains;
static bool cache_valid;
static Oid	cache_relid = InvalidOid;
static bool callback_registered;
static Jsonb *empty_object;		/* '{}' in cache_cxt, for events without metadata */

/* Where an upcast happens, for the error context. */
typedef struct UpcastContext
{
	int64		position;
	const char *event_type;
	int32		from;
} UpcastContext;

static void
InvalidateChains(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == cache_relid)
		cache_valid = false;
}

/* A function dropped or created: resolve the signatures again. */
static void
InvalidateFunctions(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_valid = false;
}

/* es.upcasters, or InvalidOid before 0.5.0 or without the extension. */
static Oid
UpcastersOid(void)
{
	Oid			nsp = get_namespace_oid("es", true);

	return OidIsValid(nsp) ? get_relname_relid("upcasters", nsp) : InvalidOid;
}

/* to_regprocedure(signature), InvalidOid when no such function. */
static Oid
ResolveSignature(const char *signature)
{
	LOCAL_FCINFO(fc, 1);
	Datum		d;

	InitFunctionCallInfoData(*fc, NULL, 1, InvalidOid, NULL, NULL);
	fc->args[0].value = CStringGetTextDatum(signature);
	fc->args[0].isnull = false;
	d = to_regprocedure(fc);
	return fc->isnull ? InvalidOid : DatumGetObjectId(d);
}

static UpcastChain *
FindChain(const char *event_type, size_t len)
{
	char		key[ES_MAX_NAME_BYTES + 1];

	if (chains == NULL || len > ES_MAX_NAME_BYTES)
		return NULL;
	memset(key, 0, sizeof(key));
	memcpy(key, event_type, len);
	return hash_search(chains, key, HASH_FIND, NULL);
}

static void
AddStep(const char *event_type, int32 from, const char *signature, bool with_metadata)
{
	char		key[ES_MAX_NAME_BYTES + 1];
	UpcastChain *c;
	UpcastStep *s;
	bool		found;

	memset(key, 0, sizeof(key));
	strlcpy(key, event_type, sizeof(key));
	c = hash_search(chains, key, HASH_ENTER, &found);
	if (!found)
	{
		c->first = from;
		c->current = from;
		c->gap = 0;
		c->nsteps = 0;
		c->allocated = 4;
		c->steps = MemoryContextAlloc(cache_cxt, sizeof(UpcastStep) * c->allocated);
	}
	if (from != c->current && c->gap == 0)
		c->gap = c->current;	/* steps come in order: a hole before this one */
	if (c->nsteps == c->allocated)
	{
		c->allocated *= 2;
		c->steps = repalloc(c->steps, sizeof(UpcastStep) * c->allocated);
	}
	s = &c->steps[c->nsteps++];
	s->signature = MemoryContextStrdup(cache_cxt, signature);
	s->with_metadata = with_metadata;
	s->fn = ResolveSignature(signature);
	if (OidIsValid(s->fn))
		fmgr_info_cxt(s->fn, &s->flinfo, cache_cxt);
	c->current = from + 1;
}

/*
 * Read es.upcasters into the cache, in primary key order: each type's steps
 * come in version order.
 */
static void
LoadChains(Oid relid)
{
	Relation	rel;
	Relation	index;
	TupleDesc	desc;
	SysScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	HASHCTL		ctl;
	AttrNumber	a_type,
				a_from,
				a_fn,
				a_meta;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(InvalidateChains, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, InvalidateFunctions, (Datum) 0);
		callback_registered = true;
	}
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(CacheMemoryContext, "event_streaming upcasters",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(cache_cxt);
	chains = NULL;
	empty_object = NULL;
	cache_relid = relid;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ES_MAX_NAME_BYTES + 1;
	ctl.entrysize = sizeof(UpcastChain);
	ctl.hcxt = cache_cxt;
	chains = hash_create("event_streaming upcasters", 64, &ctl,
						 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	rel = table_open(relid, AccessShareLock);
	index = index_open(EsRelationOid("upcasters_pkey"), AccessShareLock);
	desc = RelationGetDescr(rel);
	a_type = get_attnum(relid, "event_type");
	a_from = get_attnum(relid, "from_version");
	a_fn = get_attnum(relid, "function");
	a_meta = get_attnum(relid, "with_metadata");
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan_ordered(rel, index, snap, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		bool		isnull;

		AddStep(TextDatumGetCString(heap_getattr(tup, a_type, desc, &isnull)),
				DatumGetInt32(heap_getattr(tup, a_from, desc, &isnull)),
				TextDatumGetCString(heap_getattr(tup, a_fn, desc, &isnull)),
				DatumGetBool(heap_getattr(tup, a_meta, desc, &isnull)));
	}
	systable_endscan_ordered(scan);
	UnregisterSnapshot(snap);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	if (hash_get_num_entries(chains) == 0)
		chains = NULL;
	cache_valid = true;
}

/* Whether any type has upcasters (loading the cache when it is stale). */
bool
EsUpcasting(void)
{
	if (!cache_valid)
	{
		Oid			relid = UpcastersOid();

		if (!OidIsValid(relid))
		{
			chains = NULL;
			return false;		/* not installed, or before 0.5.0: no cache */
		}
		LoadChains(relid);
	}
	return chains != NULL;
}

/* The version appends of this type are stamped with. */
int32
EsCurrentVersion(const text *event_type)
{
	UpcastChain *c;

	if (!EsUpcasting())
		return 1;
	c = FindChain(VARDATA_ANY(event_type), VARSIZE_ANY_EXHDR(event_type));
	return c ? c->current : 1;
}

static void
UpcastErrorContext(void *arg)
{
	UpcastContext *u = arg;

	errcontext("upcasting event %lld of type \"%s\" from version %d to %d",
			   (long long) u->position, u->event_type, u->from, u->from + 1);
}

/*
 * Bring an event, as the columns of es.event, to its type's current
 * version: data through the steps it is behind, schema_version the current
 * one.  Runs each step as the current user, who must be allowed to execute
 * it.
 */
void
EsUpcast(Datum *values, bool *nulls)
{
	text	   *type;
	UpcastChain *c;
	int32		version;
	Datum		data;
	Datum		metadata;
	UpcastContext u;
	ErrorContextCallback cb;

	if (!EsUpcasting() || nulls[4] || nulls[6])
		return;
	type = DatumGetTextPP(values[4]);
	c = FindChain(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type));
	version = nulls[5] ? 1 : DatumGetInt32(values[5]);
	if (c == NULL || version >= c->current)
		return;

	u.position = DatumGetInt64(values[0]);
	u.event_type = c->event_type;
	if (version < c->first)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("event %lld of type \"%s\" is at version %d, but its upcasters start at version %d",
						(long long) u.position, c->event_type, version, c->first)));
	if (c->gap > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the upcasters of event type \"%s\" have no step from version %d",
						c->event_type, c->gap),
				 errhint("es.upcasters was changed by hand; register the missing step.")));

	data = values[6];
	metadata = nulls[7] ? (Datum) 0 : values[7];
	cb.callback = UpcastErrorContext;
	cb.arg = &u;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	for (; version < c->current; version++)
	{
		UpcastStep *s = &c->steps[version - c->first];
		AclResult	acl;
		LOCAL_FCINFO(fc, 2);

		u.from = version;
		if (!OidIsValid(s->fn))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("upcaster %s of event type \"%s\" does not exist", s->signature,
							c->event_type),
					 errhint("Create the function again, or register the step anew.")));
		acl = EsProcAclCheck(s->fn, GetUserId(), ACL_EXECUTE);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_FUNCTION, s->signature);
		/* An event without metadata: an empty object, built once. */
		if (s->with_metadata && metadata == (Datum) 0)
		{
			if (empty_object == NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(cache_cxt);

				empty_object = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
				MemoryContextSwitchTo(old);
			}
			metadata = JsonbPGetDatum(empty_object);
		}
		InitFunctionCallInfoData(*fc, &s->flinfo, s->with_metadata ? 2 : 1, InvalidOid,
								 NULL, NULL);
		fc->args[0].value = data;
		fc->args[0].isnull = false;
		fc->args[1].value = metadata;
		fc->args[1].isnull = false;
		data = FunctionCallInvoke(fc);
		if (fc->isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("upcaster %s returned null", s->signature)));
	}
	error_context_stack = cb.previous;
	values[6] = data;
	values[5] = Int32GetDatum(c->current);
	nulls[5] = false;
}

/*
 * es.upcasters_changed(): statement trigger on es.upcasters.  Every backend
 * drops its cached chains once the change commits.
 */
PG_FUNCTION_INFO_V1(es_upcasters_changed);
Datum
es_upcasters_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es.upcasters_changed must run as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trig->tg_relation));
	return PointerGetDatum(NULL);
}

static EsPlan chain_plan = {
	.sql = "SELECT pg_catalog.min(from_version), pg_catalog.max(from_version),"
	"       pg_catalog.count(*) FILTER (WHERE from_version OPERATOR(pg_catalog.=) $2)"
	"  FROM es.upcasters WHERE event_type OPERATOR(pg_catalog.=) $1",
	.nargs = 2,
	.argtypes = {TEXTOID, INT4OID}
};

static EsPlan insert_plan = {
	.sql = "INSERT INTO es.upcasters (event_type, from_version, function, with_metadata)"
	" VALUES ($1, $2, $3, $4)",
	.nargs = 4,
	.argtypes = {TEXTOID, INT4OID, TEXTOID, BOOLOID}
};

static EsPlan delete_plan = {
	.sql = "DELETE FROM es.upcasters"
	" WHERE event_type OPERATOR(pg_catalog.=) $1 AND from_version OPERATOR(pg_catalog.=) $2",
	.nargs = 2,
	.argtypes = {TEXTOID, INT4OID}
};

/* Stored events of a type at or below a version ($3 false), or above it ($3 true). */
static EsPlan needed_plan = {
	.sql = "SELECT pg_catalog.count(*) FROM es.events"
	" WHERE event_type OPERATOR(pg_catalog.=) $1"
	"   AND CASE WHEN $3 THEN schema_version OPERATOR(pg_catalog.>) $2"
	"            ELSE schema_version OPERATOR(pg_catalog.<=) $2 END",
	.nargs = 3,
	.argtypes = {TEXTOID, INT4OID, BOOLOID}
};

/*
 * The chain of a type as stored, under a lock that keeps other changes
 * out until commit: *min and *max from_version (0 without steps), and
 * whether a step from `from` exists.  Caller is in SPI.
 */
static bool
ReadChain(const char *event_type, int32 from, int32 *min, int32 *max)
{
	Datum		values[2] = {CStringGetTextDatum(event_type), Int32GetDatum(from)};
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	LockRelationOid(EsRelationOid("upcasters"), ShareRowExclusiveLock);
	EsExecute(&chain_plan, values, NULL, SPI_OK_SELECT);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	*min = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	if (isnull)
		*min = 0;
	*max = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	if (isnull)
		*max = 0;
	return DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull)) > 0;
}

static int32
VersionArg(FunctionCallInfo fcinfo, int argno)
{
	return EsIntArg(fcinfo, argno, "from_version", 1, PG_INT32_MAX - 1, NULL);
}

/*
 * es.register_upcaster(event_type, from_version, fn) → the type's new
 * current version.  The chain grows one step at a time from version 1.
 */
PG_FUNCTION_INFO_V1(es_register_upcaster);
Datum
es_register_upcaster(PG_FUNCTION_ARGS)
{
	char	   *event_type = EsNameArg(fcinfo, 0, "event type");
	int32		from = VersionArg(fcinfo, 1);
	Oid			fn;
	HeapTuple	proctup;
	Form_pg_proc proc;
	bool		with_metadata;
	AclResult	acl;
	int32		min,
				max;
	Datum		values[4];

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("fn must not be null")));
	fn = PG_GETARG_OID(2);
	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(proctup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", fn)));
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	if (proc->prokind != PROKIND_FUNCTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("upcaster %s is not a plain function", format_procedure(fn))));
	if (proc->pronargs < 1 || proc->pronargs > 2 || proc->proretset ||
		proc->prorettype != JSONBOID || proc->proargtypes.values[0] != JSONBOID ||
		(proc->pronargs == 2 && proc->proargtypes.values[1] != JSONBOID))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("upcaster %s must take (data jsonb) or (data jsonb, metadata jsonb) and return jsonb",
						format_procedure(fn))));
	with_metadata = proc->pronargs == 2;
	ReleaseSysCache(proctup);
	acl = EsProcAclCheck(fn, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(fn));

	SPI_connect();
	if (ReadChain(event_type, from, &min, &max))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("event type \"%s\" already has an upcaster from version %d",
						event_type, from)));
	if (max == 0 && from != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the first upcaster of event type \"%s\" must start at version 1", event_type),
				 errdetail("Events of a type without upcasters are at version 1; a step from %d would leave a gap.",
						   from)));
	if (max > 0 && from != max + 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("upcaster from version %d would leave a gap in the chain of event type \"%s\"",
						from, event_type),
				 errdetail("The chain goes from version %d to %d; the next step is from version %d.",
						   min, max + 1, max + 1)));
	values[0] = CStringGetTextDatum(event_type);
	values[1] = Int32GetDatum(from);
	values[2] = CStringGetTextDatum(format_procedure_qualified(fn));
	values[3] = BoolGetDatum(with_metadata);
	EsExecute(&insert_plan, values, NULL, SPI_OK_INSERT);
	SPI_finish();
	PG_RETURN_INT32(from + 1);
}

static int64
Needed(const char *event_type, int32 version, bool above)
{
	Datum		values[3] = {CStringGetTextDatum(event_type), Int32GetDatum(version),
	BoolGetDatum(above)};
	bool		isnull;

	EsExecute(&needed_plan, values, NULL, SPI_OK_SELECT);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * es.drop_upcaster(event_type, from_version).  The first step goes once no
 * stored event is at its version or below; the last once no stored event
 * is at the version it leads to (else those events would be ahead of their
 * type).  A step in between would leave a gap.
 */
PG_FUNCTION_INFO_V1(es_drop_upcaster);
Datum
es_drop_upcaster(PG_FUNCTION_ARGS)
{
	char	   *event_type = EsNameArg(fcinfo, 0, "event type");
	int32		from = VersionArg(fcinfo, 1);
	int32		min,
				max;
	int64		n;
	Datum		values[2];

	SPI_connect();
	if (!ReadChain(event_type, from, &min, &max))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("event type \"%s\" has no upcaster from version %d", event_type, from)));
	if (from != min && from != max)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot drop the upcaster from version %d of event type \"%s\"", from, event_type),
				 errdetail("It is inside the chain from version %d to %d; only the first or the last step can go.",
						   min, max + 1)));
	if (from == min && (n = Needed(event_type, from, false)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop the upcaster from version %d of event type \"%s\"", from, event_type),
				 errdetail("%lld stored events are at version %d or below and need it.",
						   (long long) n, from)));
	if (from == max && (n = Needed(event_type, from, true)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop the upcaster from version %d of event type \"%s\"", from, event_type),
				 errdetail("%lld stored events are at version %d, which would be ahead of their type.",
						   (long long) n, from + 1)));
	values[0] = CStringGetTextDatum(event_type);
	values[1] = Int32GetDatum(from);
	EsExecute(&delete_plan, values, NULL, SPI_OK_DELETE);
	SPI_finish();
	PG_RETURN_VOID();
}
