/*
 * event_streaming.h
 *	  Declarations shared by the modules of the event_streaming extension.
 */
#ifndef EVENT_STREAMING_H
#define EVENT_STREAMING_H

#include "postgres.h"

#include "access/sdir.h"
#include "access/xact.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/lockdefs.h"
#include "utils/array.h"
#include "utils/palloc.h"
#include "utils/tuplestore.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

#include "compat.h"

/* Longest stream name, in bytes. */
#define ES_MAX_NAME_BYTES 200

/* SQLSTATE of an expected-version conflict: class "ES", documented. */
#define ERRCODE_ES_WRONG_EXPECTED_VERSION MAKE_SQLSTATE('E','S','0','0','1')

/* Stream kinds as stored in es.stream_catalog.kind. */
#define ES_KIND_PERSISTENT "persistent"
#define ES_KIND_EPHEMERAL "ephemeral"

/* Bounds of the queue settings and intervals, documented in README. */
#define ES_MAX_VISIBILITY_TIMEOUT (USECS_PER_DAY / 2)	/* 12 hours */
#define ES_MAX_DELAY (7 * USECS_PER_DAY)
#define ES_MAX_WAIT (USECS_PER_SEC * 3600)
#define ES_MAX_DELIVERIES 1000

/* A queue as es.queues describes it. */
typedef struct EsQueue
{
	int32		id;
	int64		visibility_timeout; /* microseconds */
	int32		max_deliveries;
	int64		retry_delay;	/* microseconds, 0 for no backoff */
	int64		retry_delay_max;	/* microseconds */
} EsQueue;

/* metrics.c: what es.metrics counts, per category or queue */
typedef enum EsCounter
{
	ES_COUNT_APPENDED,			/* per category */
	ES_COUNT_ENQUEUED,			/* per queue, from here on */
	ES_COUNT_DELIVERED,
	ES_COUNT_ACKED,
	ES_COUNT_NACKED,
	ES_COUNT_DEAD_LETTERED,
	ES_NCOUNTERS
} EsCounter;

extern void EsMetricsInit(void);
extern Size EsMetricsShmemSize(void);
extern void EsMetricsShmemStartup(void);
extern void EsCountAppended(const char *category, int len, int64 n);
extern void EsCountQueue(int32 queue_id, EsCounter c, int64 n);

/* metrics.c: where the extension sleeps, for pg_stat_activity.wait_event */
typedef enum EsWait
{
	ES_WAIT_DEQUEUE,			/* es.dequeue with a wait */
	ES_WAIT_WORKER_NAP,			/* a database's worker between passes */
	ES_WAIT_SWEEP_DELAY,		/* a worker between two steps of a sweep */
	ES_WAIT_LAUNCHER_NAP,		/* the launcher between two looks */
	ES_NWAITS
} EsWait;

extern uint32 EsWaitEvent(EsWait w);

/* guc.c */
extern int	es_max_batch_size;
extern int	es_max_read_count;
extern int	es_sweep_batch_size;
extern int	es_sweep_delay;
extern char *es_worker_databases;
extern bool es_worker_enabled;
extern bool es_redelivery_enabled;
extern bool es_retention_enabled;
extern int	es_worker_naptime;
extern int	es_retention_interval;
extern bool es_projections_enabled;
extern bool es_notify;
extern int	es_projection_batch_size;
extern int	es_max_payload_size;
extern int	es_metrics_max_objects;
extern void EsGucInit(void);

/* shmem.c */
extern void EsShmemInit(void);
extern void EsRequirePreloaded(void);
extern void EsNextGlobalPositions(Oid seqoid, int n, int64 *pos);
extern int64 EsReadHorizon(Snapshot *snap);
extern void EsQueueChanged(int32 queue_id);
extern void EsQueueWaitBegin(int32 queue_id);
extern void EsQueueWaitEnd(void);

/* validate.c */
extern char *EsTextArgNotNull(FunctionCallInfo fcinfo, int argno, const char *what);
extern void EsValidateName(const char *name, const char *what);
extern void EsValidateMetadata(Jsonb *metadata);
extern void EsCheckPayloadSize(Datum value, const char *what);
extern void EsValidateExpectedVersion(int64 expected);
extern char *EsNameArg(FunctionCallInfo fcinfo, int argno, const char *what);
extern int32 EsIntArg(FunctionCallInfo fcinfo, int argno, const char *what, int32 min,
					  int32 max, const char *hint);
extern int	EsMaxCountArg(FunctionCallInfo fcinfo, int argno);
extern int64 EsIntervalMicroseconds(const Interval *iv);
extern int64 EsIntervalArg(FunctionCallInfo fcinfo, int argno, const char *what,
						   bool zero_ok, int64 max_us, const char *max_text);

/* spi_util.c */
typedef struct EsPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[12];
	int			cursor_options; /* CURSOR_OPT_CUSTOM_PLAN: plan each call */
	SPIPlanPtr	plan;
} EsPlan;

extern SPIPlanPtr EsPreparedPlan(EsPlan *p);
extern int	EsRun(EsPlan *p, Datum *values, const char *nulls, bool read_only,
				  Snapshot snap, long tcount);
extern int	EsRunExtended(EsPlan *p, const SPIExecuteOptions *options);
extern void EsExecute(EsPlan *p, Datum *values, const char *nulls, int expected_rc);
extern Oid	EsCaller(void);
extern Oid	EsRelationOid(const char *relname);
extern bool EsHasColumn(const char *relname, const char *attname);

/* lookup.c */
extern bool EsIndexFirst(const char *relname, const char *indexname, Datum key,
						 RegProcedure eqproc, ScanDirection dir, Snapshot snap,
						 int natts, const AttrNumber *attnums, Datum *values, bool *nulls);

/* uuid.c */
extern void EsNewUuid(pg_uuid_t *uuid);
extern void EsNewReceipt(pg_uuid_t *uuid);

/* streams.c */
extern void EsLockStream(const char *name, LOCKMODE mode);
extern int64 EsAppendCaptured(const char *stream, const char *event_type, Jsonb *data,
							  Jsonb *metadata);
extern int64 EsImportRows(int n, Datum *streams, Datum *data, const char *event_type,
						  Jsonb *metadata);

/* The columns of es.event, as es.events has them. */
#define ES_EVENT_COLUMNS \
	"global_position, stream, stream_offset, event_id, event_type," \
	" schema_version, data, metadata, correlation_id, causation_id, created_at"
#define ES_EVENT_NATTS 11

/* global.c: what a read in global order selects */

typedef struct EsFilter
{
	ArrayType  *categories;		/* any of these categories; NULL: any */
	char	   *category;		/* this category; NULL: any */
	ArrayType  *event_types;	/* any of these types; NULL: any */
	char	   *event_type;		/* this type; NULL: any */
	char	   *stream;			/* this stream; NULL: any */
	int32		members;		/* > 1: only streams of member ... */
	int32		member;			/* ... es.member_of(stream, members) */
} EsFilter;

extern void EsParseSource(const char *source, EsFilter *f);
extern void EsParseNewSource(const char *source, EsFilter *f);
extern bool EsReadFillsDirectly(void);
extern uint64 EsReadGlobal(const EsFilter *f, int64 after, int max_count, int64 *horizon,
						   Tuplestorestate *into);
extern void EsEventValues(SPITupleTable *tt, uint64 i, Datum *values, bool *nulls);
extern int64 EsSettledPosition(void);
extern int64 EsParseStart(const char *start);
extern void EsReturnGlobal(FunctionCallInfo fcinfo, const EsFilter *f, int64 after, int max_count);

/* notify.c */
extern void EsNotifyXactEvent(XactEvent event);
extern void EsNoteAppend(const char *stream, int64 position, int64 n);
extern void EsWakeWorkerAtCommit(void);

/* upcast.c */
extern bool EsUpcasting(void);
extern int32 EsCurrentVersion(const text *event_type);
extern void EsUpcast(Datum *values, bool *nulls);

/* migration.c */
typedef struct EsMigrationStep
{
	char	   *name;
	Oid			proc;			/* InvalidOid: the procedure is gone */
	char	   *proc_name;
	Oid			owner;
} EsMigrationStep;

extern bool EsMigrationLock(bool wait);
extern void EsMigrationUnlock(void);
extern bool EsMigrationRequested(void);
extern bool EsMigrationNext(bool requested_only, EsMigrationStep *step, MemoryContext cxt);
extern ErrorData *EsMigrationRun(const EsMigrationStep *step, bool as_owner, MemoryContext cxt);

/* subscription.c, projection.c */
extern int64 EsProjectionRun(const char *name, int max_events, bool worker);

/* queue.c */
extern bool EsLookupQueue(const char *name, EsQueue *q, bool missing_ok);
extern bool EsIsQueue(const char *name);

/* retention.c: a sweep's phases, in the order they run */
typedef enum EsSweepPhase
{
	ES_PHASE_REDELIVERY,
	ES_PHASE_STREAMS,			/* streams with settings of their own */
	ES_PHASE_CATEGORIES,		/* the other streams of configured categories */
	ES_PHASE_QUEUES,
	ES_PHASE_DEAD_LETTERS
} EsSweepPhase;

/* The target a sweep is working on; -1 for a setting that is not set. */
typedef struct EsSweepTarget
{
	int32		queue_id;
	int64		max_age;		/* microseconds */
	int64		max_count;
} EsSweepTarget;

typedef struct EsSweep
{
	MemoryContext cxt;
	TimestampTz now;
	int			phase;
	int			last_phase;
	char	   *after;			/* the current or last target's name */
	bool		in_target;		/* the current target has rows left */
	EsSweepTarget target;
	char	   *category;		/* ES_PHASE_CATEGORIES: the current category */
	char	   *after_category;
	int64		category_max_age;
	int64		category_max_count;
} EsSweep;

typedef void (*EsSweepReport) (const char *pass, const char *name, int64 rows, void *arg);

extern void EsSweepBegin(EsSweep *s, EsSweepPhase first, EsSweepPhase last,
						 TimestampTz now, MemoryContext cxt);
extern bool EsSweepStep(EsSweep *s, int64 batch, int64 *changed,
						EsSweepReport report, void *arg);

/* worker.c */
extern void EsWorkerInit(void);
extern Size EsWorkerShmemSize(void);
extern void EsWorkerShmemStartup(void);
extern void EsWakeWorker(bool appended);

/* claim.c */
extern int64 EsRedeliverQueue(const EsQueue *q, TimestampTz now, int64 max_rows);

#endif							/* EVENT_STREAMING_H */
