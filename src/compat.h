/*
 * compat.h
 *	  Every difference between the PostgreSQL majors event_streaming builds
 *	  against (15 to 18), in one place.
 *
 * One shim per API change, named after what it does, with the version that
 * changed it.  The modules call the shim and never test PG_VERSION_NUM
 * themselves.  Tested on 15, 17 and 18; 16 is covered by the same shims
 * (each change is keyed on the version that made it) but has no Debian
 * package to test it on.
 */
#ifndef ES_COMPAT_H
#define ES_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "datatype/timestamp.h"
#include "executor/executor.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/wait_event.h"

/* shmem_request_hook, InitMaterializedSRF and pg_prng arrived in 15. */
#if PG_VERSION_NUM < 150000
#error "event_streaming requires PostgreSQL 15 or later"
#endif

/*
 * 16 replaced the per-class ACL checks (pg_proc_aclcheck,
 * pg_class_ownercheck, ...) by object_aclcheck and object_ownercheck.
 */
#if PG_VERSION_NUM >= 160000
#define EsProcAclCheck(proc, role, mode) object_aclcheck(ProcedureRelationId, proc, role, mode)
#define EsRelationOwnerCheck(relid, role) object_ownercheck(RelationRelationId, relid, role)
#else
#define EsProcAclCheck(proc, role, mode) pg_proc_aclcheck(proc, role, mode)
#define EsRelationOwnerCheck(relid, role) pg_class_ownercheck(relid, role)
#endif

/*
 * 16: an update reports which indexes need new entries (TU_UpdateIndexes:
 * none, all, or only the summarizing ones), and ExecInsertIndexTuples takes
 * whether to insert into the summarizing indexes only.  Before 16 an update
 * reported a bool, and there were no summarizing-only inserts.
 */
#if PG_VERSION_NUM >= 160000
typedef TU_UpdateIndexes EsUpdateIndexes;
#define EsUpdateNeedsIndexes(u) ((u) != TU_None)
#define EsUpdateSummarizingOnly(u) ((u) == TU_Summarizing)
#define EsExecInsertIndexTuples(rri, slot, estate, summarizing_only) \
	ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, summarizing_only)
#else
typedef bool EsUpdateIndexes;
#define EsUpdateNeedsIndexes(u) (u)
#define EsUpdateSummarizingOnly(u) false
#define EsExecInsertIndexTuples(rri, slot, estate, summarizing_only) \
	(AssertMacro(!(summarizing_only)), \
	 ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL))
#endif

/*
 * 17: a backend's slot number is MyProcNumber, and another PGPROC's is
 * GetNumberFromPGProc(); before, both were the pgprocno field.
 */
#if PG_VERSION_NUM >= 170000
#define EsMyProcNumber() MyProcNumber
#define EsProcNumber(proc) GetNumberFromPGProc(proc)
#else
#define EsMyProcNumber() (MyProc->pgprocno)
#define EsProcNumber(proc) ((proc)->pgprocno)
#endif

/*
 * 17: extensions name their own wait events (WaitEventExtensionNew), shown
 * in pg_stat_activity.wait_event.  Before, every wait of an extension shows
 * as "Extension".
 */
static inline uint32
EsWaitEventNew(const char *name)
{
#if PG_VERSION_NUM >= 170000
	return WaitEventExtensionNew(name);
#else
	(void) name;
	return PG_WAIT_EXTENSION;
#endif
}

/*
 * 17: an interval may be infinite ('infinity', '-infinity').  Before 17
 * there is no such value: every interval is finite.
 */
#if PG_VERSION_NUM >= 170000
#define EsIntervalIsFinite(iv) (!INTERVAL_NOT_FINITE(iv))
#else
#define EsIntervalIsFinite(iv) true
#endif

/*
 * 18: index_beginscan takes the scan's instrumentation (for EXPLAIN
 * ANALYZE's index searches); the extension's own scans have none.
 */
#if PG_VERSION_NUM >= 180000
#define EsIndexBeginScan(heap, index, snap, nkeys, norderbys) \
	index_beginscan(heap, index, snap, NULL, nkeys, norderbys)
#else
#define EsIndexBeginScan(heap, index, snap, nkeys, norderbys) \
	index_beginscan(heap, index, snap, nkeys, norderbys)
#endif

/*
 * 18: RelationGetPrimaryKeyIndex may return a deferrable primary key if
 * asked.  Before 18 it never did, and the extension needs an immediate one
 * (the key of a captured row must be unique when the row's event is made).
 */
#if PG_VERSION_NUM >= 180000
#define EsPrimaryKeyIndex(rel) RelationGetPrimaryKeyIndex(rel, false)
#else
#define EsPrimaryKeyIndex(rel) RelationGetPrimaryKeyIndex(rel)
#endif

#endif							/* ES_COMPAT_H */
