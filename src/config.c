/*
 * config.c
 *	  Stream configuration: es.configure, es.configure_category and their
 *	  resets.
 *
 * Persistent streams and categories keep their settings in
 * es.stream_settings, queues in es.queues; es.configuration shows both.
 * Every value is checked here, with the error a user can act on, before
 * anything is written; the table constraints are a second line only.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "event_streaming.h"

/* Retention may keep events this long at most: past it, set nothing. */
#define ES_MAX_RETENTION_AGE (INT64CONST(36000) * USECS_PER_DAY)	/* 100 years */

/* The settings, in the argument order of es.configure. */
typedef enum Setting
{
	S_MAX_AGE,
	S_MAX_COUNT,
	S_VISIBILITY_TIMEOUT,
	S_MAX_DELIVERIES,
	S_RETRY_DELAY,
	S_RETRY_DELAY_MAX,
	S_DEAD_LETTER_MAX_AGE,
	S_DEAD_LETTER_MAX_COUNT,
	NUM_SETTINGS
} Setting;

static const char *const setting_names[NUM_SETTINGS] = {
	"max_age", "max_count", "visibility_timeout", "max_deliveries",
	"retry_delay", "retry_delay_max", "dead_letter_max_age", "dead_letter_max_count"
};

/* Settings of persistent streams and categories; the others are for queues. */
#define NUM_STREAM_SETTINGS 2

static EsPlan kind_plan = {
	.sql = "SELECT kind FROM es.stream_catalog WHERE stream OPERATOR(pg_catalog.=) $1",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

static EsPlan stream_set_plan = {
	.sql = "INSERT INTO es.stream_settings AS s (scope, name, max_age, max_count)"
	" VALUES ($1, $2, $3, $4)"
	" ON CONFLICT (scope, name) DO UPDATE"
	"   SET max_age = COALESCE(EXCLUDED.max_age, s.max_age),"
	"       max_count = COALESCE(EXCLUDED.max_count, s.max_count),"
	"       updated_at = pg_catalog.now()",
	.nargs = 4,
	.argtypes = {TEXTOID, TEXTOID, INTERVALOID, INT8OID}
};

static EsPlan queue_set_plan = {
	.sql = "UPDATE es.queues SET"
	"   max_age = COALESCE($2, max_age),"
	"   max_count = COALESCE($3, max_count),"
	"   visibility_timeout = COALESCE($4, visibility_timeout),"
	"   max_deliveries = COALESCE($5, max_deliveries),"
	"   retry_delay = COALESCE($6, retry_delay),"
	"   retry_delay_max = COALESCE($7, retry_delay_max),"
	"   dead_letter_max_age = COALESCE($8, dead_letter_max_age),"
	"   dead_letter_max_count = COALESCE($9, dead_letter_max_count)"
	" WHERE queue OPERATOR(pg_catalog.=) $1",
	.nargs = 9,
	.argtypes = {TEXTOID, INTERVALOID, INT8OID, INTERVALOID, INT4OID, INTERVALOID,
		INTERVALOID, INTERVALOID, INT8OID}
};

/* $3, $4: reset max_age, max_count. */
static EsPlan stream_reset_plan = {
	.sql = "UPDATE es.stream_settings"
	"   SET max_age = CASE WHEN $3 THEN NULL ELSE max_age END,"
	"       max_count = CASE WHEN $4 THEN NULL ELSE max_count END,"
	"       updated_at = pg_catalog.now()"
	" WHERE scope OPERATOR(pg_catalog.=) $1 AND name OPERATOR(pg_catalog.=) $2",
	.nargs = 4,
	.argtypes = {TEXTOID, TEXTOID, BOOLOID, BOOLOID}
};

/* A row with nothing set has no reason to be. */
static EsPlan stream_unset_plan = {
	.sql = "DELETE FROM es.stream_settings"
	" WHERE scope OPERATOR(pg_catalog.=) $1 AND name OPERATOR(pg_catalog.=) $2"
	"   AND max_age IS NULL AND max_count IS NULL",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID}
};

/* A queue's backoff settings, locked until the change is written. */
static EsPlan queue_backoff_plan = {
	.sql = "SELECT retry_delay, retry_delay_max FROM es.queues"
	" WHERE queue OPERATOR(pg_catalog.=) $1 FOR UPDATE",
	.nargs = 1,
	.argtypes = {TEXTOID}
};

/* The defaults are es.create_queue's. */
static EsPlan queue_reset_plan = {
	.sql = "UPDATE es.queues SET"
	"   max_age = CASE WHEN $2 THEN NULL ELSE max_age END,"
	"   max_count = CASE WHEN $3 THEN NULL ELSE max_count END,"
	"   visibility_timeout = CASE WHEN $4 THEN '30 seconds'::pg_catalog.interval"
	"                        ELSE visibility_timeout END,"
	"   max_deliveries = CASE WHEN $5 THEN 5 ELSE max_deliveries END,"
	"   retry_delay = CASE WHEN $6 THEN NULL ELSE retry_delay END,"
	"   retry_delay_max = CASE WHEN $7 THEN NULL ELSE retry_delay_max END,"
	"   dead_letter_max_age = CASE WHEN $8 THEN NULL ELSE dead_letter_max_age END,"
	"   dead_letter_max_count = CASE WHEN $9 THEN NULL ELSE dead_letter_max_count END"
	" WHERE queue OPERATOR(pg_catalog.=) $1",
	.nargs = 9,
	.argtypes = {TEXTOID, BOOLOID, BOOLOID, BOOLOID, BOOLOID, BOOLOID, BOOLOID,
		BOOLOID, BOOLOID}
};

/* The kind of a stream or queue; unknown names are an error. */
static char *
StreamKind(const char *name)
{
	Datum		values[1] = {CStringGetTextDatum(name)};

	EsExecute(&kind_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stream \"%s\" does not exist", name),
				 errhint("Settings apply to existing streams and queues; es.configure_category() sets them for the streams of a category, existing or to come.")));
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* A queue-only setting given for a persistent stream or a category. */
static void
RefuseForStream(const char *name, Setting setting, bool category)
{
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("setting \"%s\" applies only to queues", setting_names[setting]),
			 category ?
			 errdetail("Category settings apply to persistent streams.") :
			 errdetail("Stream \"%s\" is a persistent stream.", name)));
}

/* A count setting, when given: positive. */
static void
CheckCount(FunctionCallInfo fcinfo, int argno, Setting setting)
{
	if (!PG_ARGISNULL(argno) && PG_GETARG_INT64(argno) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", setting_names[setting]),
				 errdetail("Got %lld.", (long long) PG_GETARG_INT64(argno)),
				 errhint("Use es.reset_configuration() to remove a limit.")));
}

/* An interval setting, when given: positive and at most max_us. */
static void
CheckInterval(FunctionCallInfo fcinfo, int argno, Setting setting, int64 max_us,
			  const char *max_text)
{
	if (!PG_ARGISNULL(argno))
		(void) EsIntervalArg(fcinfo, argno, setting_names[setting], false, max_us, max_text);
}

/*
 * Lock the queue's row and check the backoff settings it would have:
 * retry_delay_max needs a retry_delay, and is not below it.  delay and max
 * are the new values, or 0 to keep the current one; reset_* clear it.
 */
static void
CheckBackoff(const char *queue, Datum delay, bool reset_delay, Datum max, bool reset_max)
{
	Datum		values[1] = {CStringGetTextDatum(queue)};
	bool		delay_null;
	bool		max_null;

	EsExecute(&queue_backoff_plan, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue)));
	if (delay == 0)
		delay = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &delay_null);
	delay_null = reset_delay || (delay == 0);
	if (max == 0)
		max = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &max_null);
	max_null = reset_max || (max == 0);

	if (max_null)
		return;
	if (delay_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retry_delay_max needs retry_delay"),
				 errdetail("Queue \"%s\" would have no retry_delay.", queue)));
	if (EsIntervalMicroseconds(DatumGetIntervalP(max)) <
		EsIntervalMicroseconds(DatumGetIntervalP(delay)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retry_delay_max must not be less than retry_delay"),
				 errdetail("Queue \"%s\" would have retry_delay %s and retry_delay_max %s.",
						   queue,
						   DatumGetCString(DirectFunctionCall1(interval_out, delay)),
						   DatumGetCString(DirectFunctionCall1(interval_out, max)))));
}

/* Arguments 1 and 2, max_age and max_count, of every configure function. */
static void
CheckRetention(FunctionCallInfo fcinfo)
{
	CheckInterval(fcinfo, 1, S_MAX_AGE, ES_MAX_RETENTION_AGE, "100 years");
	CheckCount(fcinfo, 2, S_MAX_COUNT);
}

/* A category name: a valid name without "-". */
static char *
CategoryArg(FunctionCallInfo fcinfo)
{
	char	   *category = EsTextArgNotNull(fcinfo, 0, "category");

	EsValidateName(category, "category");
	if (strchr(category, '-') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("category \"%s\" contains \"-\"", category),
				 errdetail("A stream's category is the part of its name before the first \"-\".")));
	return category;
}

/* Upsert the retention settings of a stream or a category. */
static void
SetStreamSettings(FunctionCallInfo fcinfo, const char *scope, const char *name)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (PG_ARGISNULL(1) && PG_ARGISNULL(2))
		return;
	values[0] = CStringGetTextDatum(scope);
	values[1] = CStringGetTextDatum(name);
	for (int i = 1; i <= 2; i++)
	{
		values[i + 1] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i + 1] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	EsExecute(&stream_set_plan, values, nulls, SPI_OK_INSERT);
}

/*
 * es.configure(stream, max_age, max_count, visibility_timeout,
 * max_deliveries, retry_delay, retry_delay_max, dead_letter_max_age,
 * dead_letter_max_count): set the given settings of a persistent stream or
 * a queue; NULL leaves one as it is.
 */
PG_FUNCTION_INFO_V1(es_configure);
Datum
es_configure(PG_FUNCTION_ARGS)
{
	char	   *name = EsTextArgNotNull(fcinfo, 0, "stream name");
	char	   *kind;

	EsValidateName(name, "stream name");
	CheckRetention(fcinfo);
	CheckInterval(fcinfo, 3, S_VISIBILITY_TIMEOUT, ES_MAX_VISIBILITY_TIMEOUT, "12 hours");
	if (!PG_ARGISNULL(4))
		(void) EsIntArg(fcinfo, 4, "max_deliveries", 1, ES_MAX_DELIVERIES, NULL);
	CheckInterval(fcinfo, 5, S_RETRY_DELAY, ES_MAX_DELAY, "7 days");
	CheckInterval(fcinfo, 6, S_RETRY_DELAY_MAX, ES_MAX_DELAY, "7 days");
	CheckInterval(fcinfo, 7, S_DEAD_LETTER_MAX_AGE, ES_MAX_RETENTION_AGE, "100 years");
	CheckCount(fcinfo, 8, S_DEAD_LETTER_MAX_COUNT);

	SPI_connect();
	kind = StreamKind(name);
	if (strcmp(kind, ES_KIND_PERSISTENT) == 0)
	{
		for (int i = NUM_STREAM_SETTINGS; i < NUM_SETTINGS; i++)
			if (!PG_ARGISNULL(i + 1))
				RefuseForStream(name, (Setting) i, false);
		SetStreamSettings(fcinfo, "stream", name);
	}
	else
	{
		Datum		values[9];
		char		nulls[9];

		CheckBackoff(name, PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5), false,
					 PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6), false);
		values[0] = CStringGetTextDatum(name);
		nulls[0] = ' ';
		for (int i = 1; i < 9; i++)
		{
			values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
			nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		}
		EsExecute(&queue_set_plan, values, nulls, SPI_OK_UPDATE);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * es.configure_category(category, max_age, max_count): retention for every
 * stream of the category, existing or to come, that does not set its own.
 */
PG_FUNCTION_INFO_V1(es_configure_category);
Datum
es_configure_category(PG_FUNCTION_ARGS)
{
	char	   *category = CategoryArg(fcinfo);

	CheckRetention(fcinfo);
	SPI_connect();
	SetStreamSettings(fcinfo, "category", category);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Which settings a reset names: all of the kind's when the array is NULL.
 * Unknown names, and queue settings for a persistent stream or category,
 * are refused.
 */
static void
SettingsToReset(FunctionCallInfo fcinfo, const char *name, bool queue, bool category,
				bool reset[NUM_SETTINGS])
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elemnulls;
	int			n;

	for (int i = 0; i < NUM_SETTINGS; i++)
		reset[i] = PG_ARGISNULL(1) && (queue || i < NUM_STREAM_SETTINGS);
	if (PG_ARGISNULL(1))
		return;
	arr = PG_GETARG_ARRAYTYPE_P(1);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elemnulls, &n);
	for (int j = 0; j < n; j++)
	{
		char	   *setting;
		int			i;

		if (elemnulls[j])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("setting names must not be null")));
		setting = TextDatumGetCString(elems[j]);
		for (i = 0; i < NUM_SETTINGS; i++)
			if (strcmp(setting, setting_names[i]) == 0)
				break;
		if (i == NUM_SETTINGS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown setting \"%s\"", setting),
					 errhint("The settings are max_age, max_count, and for queues visibility_timeout, max_deliveries, retry_delay, retry_delay_max, dead_letter_max_age and dead_letter_max_count.")));
		if (!queue && i >= NUM_STREAM_SETTINGS)
			RefuseForStream(name, (Setting) i, category);
		reset[i] = true;
	}
}

/* Clear settings of a stream or category; drop its row once none is left. */
static void
ResetStreamSettings(const char *scope, const char *name, const bool reset[NUM_SETTINGS])
{
	Datum		values[4];

	values[0] = CStringGetTextDatum(scope);
	values[1] = CStringGetTextDatum(name);
	values[2] = BoolGetDatum(reset[S_MAX_AGE]);
	values[3] = BoolGetDatum(reset[S_MAX_COUNT]);
	EsExecute(&stream_reset_plan, values, NULL, SPI_OK_UPDATE);
	CommandCounterIncrement();
	EsExecute(&stream_unset_plan, values, NULL, SPI_OK_DELETE);
}

/*
 * es.reset_configuration(stream, settings): back to the default, for the
 * named settings or all.  A stream then takes its category's values; a
 * queue gets es.create_queue's visibility timeout and max deliveries and
 * no limits.
 */
PG_FUNCTION_INFO_V1(es_reset_configuration);
Datum
es_reset_configuration(PG_FUNCTION_ARGS)
{
	char	   *name = EsTextArgNotNull(fcinfo, 0, "stream name");
	bool		reset[NUM_SETTINGS];
	bool		queue;
	Datum		values[9];

	EsValidateName(name, "stream name");
	SPI_connect();
	queue = strcmp(StreamKind(name), ES_KIND_EPHEMERAL) == 0;
	SettingsToReset(fcinfo, name, queue, false, reset);
	if (queue)
	{
		CheckBackoff(name, 0, reset[S_RETRY_DELAY], 0, reset[S_RETRY_DELAY_MAX]);
		values[0] = CStringGetTextDatum(name);
		for (int i = 0; i < NUM_SETTINGS; i++)
			values[i + 1] = BoolGetDatum(reset[i]);
		EsExecute(&queue_reset_plan, values, NULL, SPI_OK_UPDATE);
	}
	else
		ResetStreamSettings("stream", name, reset);
	SPI_finish();
	PG_RETURN_VOID();
}

/* es.reset_category_configuration(category, settings). */
PG_FUNCTION_INFO_V1(es_reset_category_configuration);
Datum
es_reset_category_configuration(PG_FUNCTION_ARGS)
{
	char	   *category = CategoryArg(fcinfo);
	bool		reset[NUM_SETTINGS];

	SettingsToReset(fcinfo, category, false, true, reset);
	SPI_connect();
	ResetStreamSettings("category", category, reset);
	SPI_finish();
	PG_RETURN_VOID();
}
