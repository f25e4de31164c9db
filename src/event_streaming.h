/*
 * event_streaming.h
 *	  Declarations shared by the modules of the event_streaming extension.
 */
#ifndef EVENT_STREAMING_H
#define EVENT_STREAMING_H

#include "postgres.h"

#include "access/sdir.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/lockdefs.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

/* shmem_request_hook, InitMaterializedSRF and pg_prng arrived in 15. */
#if PG_VERSION_NUM < 150000
#error "event_streaming requires PostgreSQL 15 or later"
#endif

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
} EsQueue;

/* guc.c */
extern int	es_max_batch_size;
extern int	es_max_read_count;
extern void EsGucInit(void);

/* shmem.c */
extern void EsShmemInit(void);
extern void EsRequirePreloaded(void);
extern void EsNextGlobalPositions(Oid seqoid, int n, int64 *pos);
extern void EsQueueChanged(int32 queue_id);
extern void EsQueueWaitBegin(int32 queue_id);
extern void EsQueueWaitEnd(void);

/* validate.c */
extern char *EsTextArgNotNull(FunctionCallInfo fcinfo, int argno, const char *what);
extern void EsValidateName(const char *name, const char *what);
extern void EsValidateMetadata(Jsonb *metadata);
extern void EsValidateExpectedVersion(int64 expected);
extern int	EsValidateMaxCount(int32 max_count);
extern int64 EsIntervalArg(FunctionCallInfo fcinfo, int argno, const char *what,
						   bool zero_ok, int64 max_us, const char *max_text);

/* spi_util.c */
typedef struct EsPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[12];
	SPIPlanPtr	plan;
} EsPlan;

extern SPIPlanPtr EsPreparedPlan(EsPlan *p);
extern Oid	EsRelationOid(const char *relname);

/* lookup.c */
extern bool EsIndexFirst(const char *relname, const char *indexname, Datum key,
						 RegProcedure eqproc, ScanDirection dir, Snapshot snap,
						 int natts, const AttrNumber *attnums, Datum *values, bool *nulls);

/* uuid.c */
extern void EsNewUuid(pg_uuid_t *uuid);
extern void EsNewReceipt(pg_uuid_t *uuid);

/* streams.c */
extern void EsLockStream(const char *name, LOCKMODE mode);

/* queue.c */
extern bool EsLookupQueue(const char *name, EsQueue *q, bool missing_ok);

#endif							/* EVENT_STREAMING_H */
