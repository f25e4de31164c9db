/*
 * capture.c
 *	  Moving a CRUD table onto events: es.import_table, es.capture_table,
 *	  es.uncapture_table and the capture trigger.
 *
 * A table's rows map to streams '<stream_prefix>-<key>', the key being one
 * NOT NULL column with a unique index of its own (the primary key unless
 * named).  import_table appends each row as the first event of its stream;
 * the capture trigger appends Created, Updated and Deleted events in the
 * transaction of the change:
 *
 *	 Created  {"new": row}
 *	 Updated  {"new": row, "old": row, "changed": [columns]}
 *	 Deleted  {"old": row}
 *
 * with metadata {"table": "schema.table", "operation": "INSERT" | ...}.  An
 * UPDATE that changes no column appends nothing; one that changes the key
 * appends Deleted to the old key's stream and Created to the new one's.
 * TRUNCATE of a captured table is refused: it would change the table
 * without events.
 *
 * The trigger appends without the stream lock es.append takes.  The changes
 * of one stream are changes of one row, and PostgreSQL already orders them:
 * an UPDATE or DELETE waits for the row's lock, an INSERT of a key for the
 * unique index, until the earlier transaction ends, and the append's look-up
 * of the stream's end (latest snapshot) then sees its event.  So a bulk
 * change of a million rows takes no million locks.  Appending to a captured
 * stream by other means can still race; the unique (stream, stream_offset)
 * key then refuses one of the two.  Writers of the table need no rights
 * on schema es: the events are built as the table's owner and appended,
 * like every append, by statements run as es's owner.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "event_streaming.h"

#define CAPTURE_TRIGGER "es_capture"
#define TRUNCATE_TRIGGER "es_capture_truncate"

/* Rows appended per statement by import_table. */
#define IMPORT_BATCH 1000

/* How the rows of one relation become events. */
typedef struct RowShape
{
	Oid			relid;
	AttrNumber	key;			/* the key column */
	FmgrInfo	key_out;		/* its output function */
	FmgrInfo	to_jsonb;		/* to_jsonb(row of this relation) */
	Jsonb	   *metadata[3];	/* by operation (INSERT, UPDATE, DELETE), once used */
} RowShape;

/* "schema.table", quoted as in SQL. */
static char *
TableName(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* {"table": ..., key: value} as jsonb. */
static Jsonb *
Metadata(Oid relid, const char *key, const char *value)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"table\": ");
	escape_json(&s, TableName(relid));
	appendStringInfo(&s, ", \"%s\": ", key);
	escape_json(&s, value);
	appendStringInfoChar(&s, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/* A prefix: a valid name without '-' (it is the streams' category). */
static char *
PrefixArg(FunctionCallInfo fcinfo, int argno)
{
	char	   *prefix = EsNameArg(fcinfo, argno, "stream prefix");

	if (strchr(prefix, '-') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream prefix \"%s\" must not contain '-'", prefix),
				 errdetail("The prefix is the category of the streams, the part of their names before the first '-'.")));
	return prefix;
}

static Oid
TableArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null")));
	return PG_GETARG_OID(argno);
}

/* Key column types: those whose text form names a stream well. */
static bool
KeyTypeSupported(Oid type)
{
	switch (getBaseType(type))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case UUIDOID:
			return true;
		default:
			return false;
	}
}

/* Whether attnum alone is the key of a valid, non-partial unique index. */
static bool
UniqueAlone(Relation rel, AttrNumber attnum)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tup))
			continue;
		index = (Form_pg_index) GETSTRUCT(tup);
		if (index->indisunique && index->indisvalid && index->indnkeyatts == 1 &&
			index->indkey.values[0] == attnum &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL))
			found = true;
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	return found;
}

/* Open a table given by OID, which may not exist (42P01, not an internal error). */
static Relation
OpenTable(Oid relid, LOCKMODE mode)
{
	Relation	rel = try_table_open(relid, mode);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table with OID %u does not exist", relid)));
	return rel;
}

/*
 * Check that rel can be imported or captured and find its key column (the
 * primary key's, or id_column).  Returns the key column's name.
 */
static char *
CheckTable(Relation rel, const char *id_column)
{
	char	   *name = RelationGetRelationName(rel);
	Form_pg_attribute att;
	AttrNumber	key;

	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", name)));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("temporary table \"%s\" cannot be moved onto events", name)));
	if (RelationGetNamespace(rel) == get_namespace_oid("es", false) ||
		IsCatalogNamespace(RelationGetNamespace(rel)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" belongs to schema %s", name,
						get_namespace_name(RelationGetNamespace(rel)))));
	if (id_column == NULL)
	{
		Oid			pk = EsPrimaryKeyIndex(rel);
		HeapTuple	tup;
		Form_pg_index index;

		if (!OidIsValid(pk))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("table \"%s\" has no primary key", name),
					 errhint("Add one, or name a NOT NULL column with a unique index as id_column.")));
		tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for index %u", pk);
		index = (Form_pg_index) GETSTRUCT(tup);
		if (index->indnkeyatts != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the primary key of table \"%s\" has %d columns", name,
							index->indnkeyatts),
					 errhint("Name a NOT NULL column with a unique index of its own as id_column.")));
		key = index->indkey.values[0];
		ReleaseSysCache(tup);
	}
	else
	{
		key = get_attnum(RelationGetRelid(rel), id_column);
		if (key == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table \"%s\" does not exist", id_column, name)));
		if (key < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("system column \"%s\" cannot be the key", id_column)));
		att = TupleDescAttr(RelationGetDescr(rel), key - 1);
		if (!att->attnotnull || !UniqueAlone(rel, key))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("column \"%s\" of table \"%s\" cannot be the key", id_column, name),
					 errdetail("A key column is NOT NULL and has a unique index of its own.")));
	}
	att = TupleDescAttr(RelationGetDescr(rel), key - 1);
	if (!KeyTypeSupported(att->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("key column \"%s\" of table \"%s\" has type %s, which cannot name a stream",
						NameStr(att->attname), name, format_type_be(att->atttypid)),
				 errhint("Key columns are integers, numeric, text, varchar, char or uuid.")));
	return pstrdup(NameStr(att->attname));
}

/* The shape of relid's rows (a table or a partition), key column by name. */
static void
InitShape(RowShape *shape, Relation rel, const char *key_name, MemoryContext cxt)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			out;
	bool		varlena;
	FuncExpr   *expr;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	shape->relid = relid;
	shape->key = get_attnum(relid, key_name);
	if (shape->key <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("key column \"%s\" of table \"%s\" does not exist", key_name,
						RelationGetRelationName(rel))));
	getTypeOutputInfo(TupleDescAttr(RelationGetDescr(rel), shape->key - 1)->atttypid,
					  &out, &varlena);
	fmgr_info_cxt(out, &shape->key_out, cxt);
	/* to_jsonb learns its argument's type from the call expression. */
	expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
						list_make1(makeNullConst(RelationGetDescr(rel)->tdtypeid, -1, InvalidOid)),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	fmgr_info_cxt(F_TO_JSONB, &shape->to_jsonb, cxt);
	shape->to_jsonb.fn_expr = (Node *) expr;
	MemoryContextSwitchTo(old);
}

/* '<prefix>-<key>' of a row. */
static char *
StreamOf(const RowShape *shape, const char *prefix, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		key = heap_getattr(tup, shape->key, desc, &isnull);
	char	   *stream;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("key column of table \"%s\" is null", get_rel_name(shape->relid))));
	stream = psprintf("%s-%s", prefix, OutputFunctionCall((FmgrInfo *) &shape->key_out, key));
	EsValidateName(stream, "stream name");
	return stream;
}

static Jsonb *
RowJsonb(RowShape *shape, HeapTuple tup, TupleDesc desc)
{
	return DatumGetJsonbP(FunctionCall1(&shape->to_jsonb, heap_copy_tuple_as_datum(tup, desc)));
}

static void
PushKey(EsJsonbBuild *b, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	EsJsonbPush(b, WJB_KEY, &v);
}

static void
PushRow(EsJsonbBuild *b, const char *key, Jsonb *row)
{
	JsonbValue	v;

	PushKey(b, key);
	v.type = jbvBinary;
	v.val.binary.data = &row->root;
	v.val.binary.len = 0;
	EsJsonbPush(b, WJB_VALUE, &v);
}

/* {"new": new} or {"old": old} */
static Jsonb *
OneRow(const char *key, Jsonb *row)
{
	EsJsonbBuild b;

	EsJsonbBuildInit(&b);
	EsJsonbPush(&b, WJB_BEGIN_OBJECT, NULL);
	PushRow(&b, key, row);
	EsJsonbPush(&b, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(EsJsonbResult(&b));
}

/*
 * es.import_table(table, stream_prefix, id_column, event_type) → events
 * appended.  Each row becomes the first event of its stream, {"new": row};
 * a stream that exists already is left alone, so an interrupted import can
 * simply run again.  Writers wait while it runs (SHARE lock); it reads the
 * table as committed when the lock was granted.
 */
PG_FUNCTION_INFO_V1(es_import_table);
Datum
es_import_table(PG_FUNCTION_ARGS)
{
	Oid			relid = TableArg(fcinfo, 0);
	char	   *prefix = PrefixArg(fcinfo, 1);
	char	   *id_column = PG_ARGISNULL(2) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(2)));
	char	   *event_type = EsNameArg(fcinfo, 3, "event type");
	Relation	rel;
	char	   *key_name;
	List	   *leaves;
	ListCell   *lc;
	AclResult	acl;
	int64		imported = 0;
	MemoryContext batch_cxt;
	Jsonb	   *metadata;

	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("table \"%s\" has row-level security for the current user", get_rel_name(relid)),
				 errdetail("An import must see every row.")));
	rel = OpenTable(relid, ShareLock);
	key_name = CheckTable(rel, id_column);
	metadata = Metadata(relid, "operation", "IMPORT");
	leaves = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
		find_all_inheritors(relid, ShareLock, NULL) : list_make1_oid(relid);
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "event_streaming import",
									  ALLOCSET_DEFAULT_SIZES);

	SPI_connect();
	/* Every committed row, and those this transaction wrote before. */
	CommandCounterIncrement();
	foreach(lc, leaves)
	{
		Relation	leaf = lfirst_oid(lc) == relid ? rel : table_open(lfirst_oid(lc), NoLock);
		RowShape	shape;
		Snapshot	snap;
		TableScanDesc scan;
		TupleTableSlot *slot;
		Datum		streams[IMPORT_BATCH];
		Datum		data[IMPORT_BATCH];
		int			n = 0;
		MemoryContext old;

		if (leaf->rd_rel->relkind != RELKIND_RELATION)
		{
			if (leaf != rel)
				table_close(leaf, NoLock);
			continue;
		}
		InitShape(&shape, leaf, key_name, CurrentMemoryContext);
		snap = RegisterSnapshot(GetLatestSnapshot());
		scan = EsTableBeginScan(leaf, snap, 0, NULL);
		slot = table_slot_create(leaf, NULL);
		old = MemoryContextSwitchTo(batch_cxt);
		for (;;)
		{
			bool		more = table_scan_getnextslot(scan, ForwardScanDirection, slot);

			if (more)
			{
				bool		should_free;
				HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, &should_free);

				streams[n] = CStringGetTextDatum(StreamOf(&shape, prefix, tup, RelationGetDescr(leaf)));
				data[n++] = JsonbPGetDatum(OneRow("new", RowJsonb(&shape, tup, RelationGetDescr(leaf))));
			}
			if (n == IMPORT_BATCH || (!more && n > 0))
			{
				imported += EsImportRows(n, streams, data, event_type, metadata);
				n = 0;
				MemoryContextReset(batch_cxt);
			}
			if (!more)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		MemoryContextSwitchTo(old);
		ExecDropSingleTupleTableSlot(slot);
		table_endscan(scan);
		UnregisterSnapshot(snap);
		if (leaf != rel)
			table_close(leaf, NoLock);
	}
	SPI_finish();
	table_close(rel, NoLock);
	MemoryContextDelete(batch_cxt);
	PG_RETURN_INT64(imported);
}

/* Only the table's owner moves it onto events, or back. */
static Relation
OpenOwnTable(Oid relid, LOCKMODE mode)
{
	Relation	rel = OpenTable(relid, mode);

	if (!EsRelationOwnerCheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	return rel;
}

static void
AddTrigger(Relation rel, const char *name, bool row, int16 timing, int16 events,
		   List *args, Oid fn)
{
	CreateTrigStmt *stmt = makeNode(CreateTrigStmt);

	stmt->trigname = pstrdup(name);
	stmt->relation = makeRangeVar(get_namespace_name(RelationGetNamespace(rel)),
								  pstrdup(RelationGetRelationName(rel)), -1);
	stmt->funcname = list_make2(makeString("es"), makeString("capture_trigger"));
	stmt->args = args;
	stmt->row = row;
	stmt->timing = timing;
	stmt->events = events;
	(void) CreateTrigger(stmt, NULL, RelationGetRelid(rel), InvalidOid, InvalidOid, InvalidOid,
						 fn, InvalidOid, NULL, false, false);
	CommandCounterIncrement();
}

/*
 * es.capture_table(table, stream_prefix, id_column, event_type_prefix):
 * from now on each INSERT, UPDATE and DELETE of the table appends an event
 * in its transaction (see the head of this file).
 */
PG_FUNCTION_INFO_V1(es_capture_table);
Datum
es_capture_table(PG_FUNCTION_ARGS)
{
	Oid			relid = TableArg(fcinfo, 0);
	char	   *prefix = PrefixArg(fcinfo, 1);
	char	   *id_column = PG_ARGISNULL(2) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(2)));
	char	   *type_prefix = EsTextArgNotNull(fcinfo, 3, "event_type_prefix");
	Relation	rel;
	char	   *key_name;
	List	   *args;
	Oid			fn;

	EsValidateName(psprintf("%sCreated", type_prefix), "event type");
	rel = OpenOwnTable(relid, ShareRowExclusiveLock);
	key_name = CheckTable(rel, id_column);
	if (OidIsValid(get_trigger_oid(relid, CAPTURE_TRIGGER, true)) ||
		OidIsValid(get_trigger_oid(relid, TRUNCATE_TRIGGER, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is captured already", RelationGetRelationName(rel)),
				 errhint("es.uncapture_table removes the capture.")));
	fn = LookupFuncName(list_make2(makeString("es"), makeString("capture_trigger")), 0, NULL, false);
	args = list_make3(makeString(prefix), makeString(key_name), makeString(type_prefix));
	AddTrigger(rel, CAPTURE_TRIGGER, true, TRIGGER_TYPE_AFTER,
			   TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE, args, fn);
	AddTrigger(rel, TRUNCATE_TRIGGER, false, TRIGGER_TYPE_BEFORE, TRIGGER_TYPE_TRUNCATE, args, fn);
	table_close(rel, NoLock);
	PG_RETURN_VOID();
}

/* es.uncapture_table(table): the table's changes append nothing any more. */
PG_FUNCTION_INFO_V1(es_uncapture_table);
Datum
es_uncapture_table(PG_FUNCTION_ARGS)
{
	Oid			relid = TableArg(fcinfo, 0);
	Relation	rel = OpenOwnTable(relid, ShareRowExclusiveLock);
	const char *names[2] = {CAPTURE_TRIGGER, TRUNCATE_TRIGGER};
	bool		found = false;

	for (int i = 0; i < 2; i++)
	{
		ObjectAddress obj;

		obj.classId = TriggerRelationId;
		obj.objectId = get_trigger_oid(relid, names[i], true);
		obj.objectSubId = 0;
		if (!OidIsValid(obj.objectId))
			continue;
		performDeletion(&obj, DROP_RESTRICT, 0);
		found = true;
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table \"%s\" is not captured", RelationGetRelationName(rel))));
	table_close(rel, NoLock);
	PG_RETURN_VOID();
}

/* Per statement and relation: the rows' shape (in fn_extra). */
static RowShape *
ShapeFor(FunctionCallInfo fcinfo, Relation rel, const char *key_name)
{
	RowShape   *shape = fcinfo->flinfo->fn_extra;

	if (shape == NULL || shape->relid != RelationGetRelid(rel))
	{
		shape = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RowShape));
		InitShape(shape, rel, key_name, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = shape;
	}
	return shape;
}

/*
 * The events' metadata for an operation, built when first needed: most
 * statements do one thing, MERGE and INSERT ... ON CONFLICT may do more.
 */
static Jsonb *
OperationMetadata(FunctionCallInfo fcinfo, RowShape *shape, int op)
{
	static const char *const names[3] = {"INSERT", "UPDATE", "DELETE"};

	if (shape->metadata[op] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		shape->metadata[op] = Metadata(shape->relid, "operation", names[op]);
		MemoryContextSwitchTo(old);
	}
	return shape->metadata[op];
}

/* Push the names of the columns whose values differ between the two rows. */
static void
PushChanged(EsJsonbBuild *b, HeapTuple old, HeapTuple new, TupleDesc desc, int *count)
{
	*count = 0;
	EsJsonbPush(b, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		n1,
					n2;
		Datum		d1,
					d2;

		if (att->attisdropped)
			continue;
		d1 = heap_getattr(old, i + 1, desc, &n1);
		d2 = heap_getattr(new, i + 1, desc, &n2);
		if (n1 != n2 || (!n1 && !datum_image_eq(d1, d2, att->attbyval, att->attlen)))
		{
			JsonbValue	v;

			v.type = jbvString;
			v.val.string.val = NameStr(att->attname);
			v.val.string.len = strlen(NameStr(att->attname));
			EsJsonbPush(b, WJB_ELEM, &v);
			(*count)++;
		}
	}
	EsJsonbPush(b, WJB_END_ARRAY, NULL);
}

/*
 * es.capture_trigger(stream_prefix, key column, event type prefix): after
 * each row inserted, updated or deleted; before TRUNCATE, to refuse it.
 */
/*
 * The events of one row change: Created, Deleted, or Updated (with what
 * changed), or Deleted and Created when the key changed.
 */
static void
CaptureChange(FunctionCallInfo fcinfo, TriggerData *trig, RowShape *shape, char **args,
			  TupleDesc desc)
{
	TriggerEvent ev = trig->tg_event;

	if (TRIGGER_FIRED_BY_INSERT(ev))
		(void) EsAppendCaptured(StreamOf(shape, args[0], trig->tg_trigtuple, desc),
								psprintf("%sCreated", args[2]),
								OneRow("new", RowJsonb(shape, trig->tg_trigtuple, desc)),
								OperationMetadata(fcinfo, shape, 0));
	else if (TRIGGER_FIRED_BY_DELETE(ev))
		(void) EsAppendCaptured(StreamOf(shape, args[0], trig->tg_trigtuple, desc),
								psprintf("%sDeleted", args[2]),
								OneRow("old", RowJsonb(shape, trig->tg_trigtuple, desc)),
								OperationMetadata(fcinfo, shape, 2));
	else
	{
		HeapTuple	old = trig->tg_trigtuple;
		HeapTuple	new = trig->tg_newtuple;
		char	   *old_stream = StreamOf(shape, args[0], old, desc);
		char	   *new_stream = StreamOf(shape, args[0], new, desc);
		Jsonb	   *old_row = RowJsonb(shape, old, desc);
		Jsonb	   *new_row = RowJsonb(shape, new, desc);

		if (strcmp(old_stream, new_stream) != 0)
		{
			/* A new key: the old row's stream ends, the new one's begins. */
			(void) EsAppendCaptured(old_stream, psprintf("%sDeleted", args[2]),
									OneRow("old", old_row), OperationMetadata(fcinfo, shape, 1));
			(void) EsAppendCaptured(new_stream, psprintf("%sCreated", args[2]),
									OneRow("new", new_row), OperationMetadata(fcinfo, shape, 1));
		}
		else
		{
			EsJsonbBuild b;
			int			count;

			EsJsonbBuildInit(&b);
			EsJsonbPush(&b, WJB_BEGIN_OBJECT, NULL);
			PushRow(&b, "new", new_row);
			PushRow(&b, "old", old_row);
			PushKey(&b, "changed");
			PushChanged(&b, old, new, desc, &count);
			EsJsonbPush(&b, WJB_END_OBJECT, NULL);
			if (count > 0)
				(void) EsAppendCaptured(new_stream, psprintf("%sUpdated", args[2]),
										JsonbValueToJsonb(EsJsonbResult(&b)),
										OperationMetadata(fcinfo, shape, 1));
		}
	}
}

/* CaptureChange as role, which is restored when it returns or fails. */
static void
CaptureAs(Oid role, FunctionCallInfo fcinfo, TriggerData *trig, RowShape *shape, char **args,
		  TupleDesc desc)
{
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		CaptureChange(fcinfo, trig, shape, args, desc);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(es_capture_trigger);
Datum
es_capture_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	char	  **args;
	RowShape   *shape;
	TriggerEvent ev;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es.capture_trigger must run as a trigger")));
	ev = trig->tg_event;
	rel = trig->tg_relation;
	if (TRIGGER_FIRED_BY_TRUNCATE(ev))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot truncate table \"%s\": its changes are captured as events",
						RelationGetRelationName(rel)),
				 errdetail("TRUNCATE would remove the rows without Deleted events."),
				 errhint("DELETE the rows, or call es.uncapture_table first.")));
	if (!TRIGGER_FIRED_FOR_ROW(ev) || !TRIGGER_FIRED_AFTER(ev) ||
		trig->tg_trigger->tgnargs != 3)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es.capture_trigger must run after each row, with three arguments"),
				 errhint("Use es.capture_table to install it.")));
	args = trig->tg_trigger->tgargs;
	desc = RelationGetDescr(rel);
	shape = ShapeFor(fcinfo, rel, args[1]);

	/*
	 * Build the events as the table's owner, who installed the capture (the
	 * rows' output functions run with its rights); the append itself runs
	 * as es's owner, like every statement on es's tables.
	 */
	CaptureAs(rel->rd_rel->relowner, fcinfo, trig, shape, args, desc);
	return PointerGetDatum(NULL);
}
