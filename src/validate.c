/*
 * validate.c
 *	  Argument checks shared by the SQL-callable functions.
 *
 * Every check raises a clear error with a fitting SQLSTATE before anything is
 * written, so bad input never leaves half-written state.
 */
#include "postgres.h"

#include "common/int.h"
#include "mb/pg_wchar.h"
#include "access/detoast.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "event_streaming.h"

/* Fetch a text argument that must not be NULL, as a C string. */
char *
EsTextArgNotNull(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * A stream name or an event type ("what" says which): 1 to
 * ES_MAX_NAME_BYTES bytes, no control characters.
 */
void
EsValidateName(const char *name, const char *what)
{
	size_t		len = strlen(name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (len > ES_MAX_NAME_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", what),
				 errdetail("It is %zu bytes long; the limit is %d bytes.",
						   len, ES_MAX_NAME_BYTES)));
	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain control characters", what),
					 errdetail("Byte %d is 0x%02x.",
							   (int) (p - (const unsigned char *) name) + 1, *p)));
	}
}

/* Metadata, when given, is a JSON object. */
void
EsValidateMetadata(Jsonb *metadata)
{
	if (metadata != NULL && !JB_ROOT_IS_OBJECT(metadata))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event metadata must be a JSON object")));
}

/*
 * A JSON value given to an append or an enqueue ("what" names it): at most
 * event_streaming.max_payload_size, measured uncompressed without
 * detoasting it.
 */
void
EsCheckPayloadSize(Datum value, const char *what)
{
	Size		size = toast_raw_datum_size(value);

	if (size > (Size) es_max_payload_size * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("size of %s exceeds the limit", what),
				 errdetail("It is %zu bytes; event_streaming.max_payload_size is %zu bytes.",
						   size, (Size) es_max_payload_size * 1024),
				 errhint("Raise event_streaming.max_payload_size, or keep large content elsewhere and refer to it.")));
}

/* NULL means any version; -1 means no stream; n >= 0 an exact version. */
void
EsValidateExpectedVersion(int64 expected)
{
	if (expected < -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected version must be -1 or greater"),
				 errdetail("Got %lld. Use NULL for any version, -1 for a stream that must not exist yet, or the offset of the stream's last event.",
						   (long long) expected)));
}

/* A name argument (stream, queue, subscription...): not null, valid. */
char *
EsNameArg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	char	   *name = EsTextArgNotNull(fcinfo, argno, what);

	EsValidateName(name, what);
	return name;
}

/*
 * An integer argument ("what" names it) that must not be NULL and must lie
 * in min .. max; hint, when not NULL, says what sets the limit.
 */
int32
EsIntArg(FunctionCallInfo fcinfo, int argno, const char *what, int32 min, int32 max,
		 const char *hint)
{
	int32		v;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	v = PG_GETARG_INT32(argno);
	if (v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d", what, min, max),
				 errdetail("Got %d.", v),
				 hint ? errhint("%s", hint) : 0));
	return v;
}

/* The max_count argument of a read: 1 .. event_streaming.max_read_count. */
int
EsMaxCountArg(FunctionCallInfo fcinfo, int argno)
{
	return EsIntArg(fcinfo, argno, "max_count", 1, es_max_read_count,
					"The upper limit is set by event_streaming.max_read_count.");
}

/*
 * A stored interval, already validated, in microseconds: a month counts as
 * 30 days and a day as 24 hours.
 */
int64
EsIntervalMicroseconds(const Interval *iv)
{
	return iv->time + ((int64) iv->month * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY;
}

/*
 * An interval argument, in microseconds: not NULL, finite, not negative
 * (nor zero unless zero_ok), at most max_us (spelled max_text in the
 * error).  A month counts as 30 days and a day as 24 hours, as in
 * EXTRACT(EPOCH ...).
 */
int64
EsIntervalArg(FunctionCallInfo fcinfo, int argno, const char *what,
			  bool zero_ok, int64 max_us, const char *max_text)
{
	Interval   *iv;
	int64		us;
	int64		days;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	iv = PG_GETARG_INTERVAL_P(argno);
	if (!EsIntervalIsFinite(iv))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", what),
				 errdetail("Got %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(iv))))));
	days = (int64) iv->month * DAYS_PER_MONTH + iv->day;
	if (pg_mul_s64_overflow(days, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, iv->time, &us) ||
		us > max_us)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most %s", what, max_text),
				 errdetail("Got %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(iv))))));
	if (us < 0 || (us == 0 && !zero_ok))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(zero_ok ? "%s must not be negative" : "%s must be positive", what),
				 errdetail("Got %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(iv))))));
	return us;
}
