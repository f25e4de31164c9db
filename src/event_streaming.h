/*
 * event_streaming.h
 *	  Declarations shared by the modules of the event_streaming extension.
 */
#ifndef EVENT_STREAMING_H
#define EVENT_STREAMING_H

#include "postgres.h"

#include "access/sdir.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"

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

/* guc.c */
extern int	es_max_batch_size;
extern int	es_max_read_count;
extern void EsGucInit(void);

/* shmem.c */
extern void EsShmemInit(void);
extern void EsRequirePreloaded(void);
extern void EsNextGlobalPositions(Oid seqoid, int n, int64 *pos);

/* validate.c */
extern char *EsTextArgNotNull(FunctionCallInfo fcinfo, int argno, const char *what);
extern void EsValidateName(const char *name, const char *what);
extern void EsValidateMetadata(Jsonb *metadata);
extern void EsValidateExpectedVersion(int64 expected);
extern int	EsValidateMaxCount(int32 max_count);

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

/* streams.c */
extern void EsLockStream(const char *name);

#endif							/* EVENT_STREAMING_H */
