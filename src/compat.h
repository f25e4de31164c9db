/*
 * compat.h
 *	  Every difference between the PostgreSQL majors event_streaming builds
 *	  against (15 to 19), in one place.
 *
 * One shim per API change, named after what it does, with the version that
 * changed it.  The modules call the shim and never test PG_VERSION_NUM
 * themselves.  Tested on 15, 17 and 18; 16 is covered by the same shims
 * (each change is keyed on the version that made it) but has no Debian
 * package to test it on.  19 (a release candidate) is compiled against,
 * not run: scripts/compile_check.sh.
 */
#ifndef ES_COMPAT_H
#define ES_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/twophase.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "datatype/timestamp.h"
#include "executor/executor.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/jsonb.h"
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
 * reported a bool, and there were no summarizing-only inserts.  19 passes
 * ExecInsertIndexTuples its options as flags (EIIT_*).
 */
#if PG_VERSION_NUM >= 190000
typedef TU_UpdateIndexes EsUpdateIndexes;
#define EsUpdateNeedsIndexes(u) ((u) != TU_None)
#define EsUpdateSummarizingOnly(u) ((u) == TU_Summarizing)
#define EsExecInsertIndexTuples(rri, slot, estate, summarizing_only) \
	ExecInsertIndexTuples(rri, estate, (summarizing_only) ? EIIT_ONLY_SUMMARIZING : 0, \
						  slot, NIL, NULL)
#elif PG_VERSION_NUM >= 160000
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
 * A deliberate fall-through between two cases.  19 builds extensions with
 * -Wimplicit-fallthrough=5, which takes only the attribute (its
 * pg_fallthrough), not a comment; before, a comment did, and the attribute
 * is used where the compiler has it.
 */
#if PG_VERSION_NUM >= 190000
#define EsFallthrough pg_fallthrough
#elif defined(__has_attribute)
#if __has_attribute(fallthrough)
#define EsFallthrough __attribute__((fallthrough))
#endif
#endif
#ifndef EsFallthrough
#define EsFallthrough ((void) 0)
#endif

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
 * ANALYZE's index searches); the extension's own scans have none.  19 adds
 * scan option flags; none are needed.
 */
#if PG_VERSION_NUM >= 190000
#define EsIndexBeginScan(heap, index, snap, nkeys, norderbys) \
	index_beginscan(heap, index, snap, NULL, nkeys, norderbys, 0)
#elif PG_VERSION_NUM >= 180000
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

/*
 * 19: table_beginscan takes scan option flags; none are needed.
 */
#if PG_VERSION_NUM >= 190000
#define EsTableBeginScan(rel, snap, nkeys, keys) table_beginscan(rel, snap, nkeys, keys, 0)
#else
#define EsTableBeginScan(rel, snap, nkeys, keys) table_beginscan(rel, snap, nkeys, keys)
#endif

/*
 * 19: table_tuple_update and table_tuple_delete take an options bitmask
 * (TABLE_UPDATE_*, TABLE_DELETE_*), which replaced delete's changingPart;
 * the extension passes none.
 */
#if PG_VERSION_NUM >= 190000
#define EsTableTupleUpdate(rel, tid, slot, cid, snap, wait, tmfd, lockmode, update_indexes) \
	table_tuple_update(rel, tid, slot, cid, 0, snap, InvalidSnapshot, wait, tmfd, lockmode, \
					   update_indexes)
#define EsTableTupleDelete(rel, tid, cid, snap, wait, tmfd) \
	table_tuple_delete(rel, tid, cid, 0, snap, InvalidSnapshot, wait, tmfd)
#else
#define EsTableTupleUpdate(rel, tid, slot, cid, snap, wait, tmfd, lockmode, update_indexes) \
	table_tuple_update(rel, tid, slot, cid, snap, InvalidSnapshot, wait, tmfd, lockmode, \
					   update_indexes)
#define EsTableTupleDelete(rel, tid, cid, snap, wait, tmfd) \
	table_tuple_delete(rel, tid, cid, snap, InvalidSnapshot, wait, tmfd, false)
#endif

/*
 * 19: a shared hash table has one size (before: an initial and a maximum
 * size, which the extension always gave the same).
 */
#if PG_VERSION_NUM >= 190000
#define EsShmemInitHash(name, size, info, flags) ShmemInitHash(name, size, info, flags)
#else
#define EsShmemInitHash(name, size, info, flags) ShmemInitHash(name, size, size, info, flags)
#endif

/*
 * 19: the PGPROC that stands for a prepared transaction is found by its
 * full transaction id.  The extension looks up its own transaction, just
 * prepared, whose xid is recent enough to widen against the next one.
 */
#if PG_VERSION_NUM >= 190000
#define EsTwoPhaseGetDummyProc(xid) \
	TwoPhaseGetDummyProc(FullTransactionIdFromAllowableAt(ReadNextFullTransactionId(), xid), false)
#else
#define EsTwoPhaseGetDummyProc(xid) TwoPhaseGetDummyProc(xid, false)
#endif

/*
 * 19: a jsonb value is built in a JsonbInState that the caller zeroes, and
 * pushJsonbValue returns nothing: the finished value is the state's result.
 * Before, the state was a JsonbParseState pointer, and each push returned
 * the value built so far (the whole one after the last).
 */
#if PG_VERSION_NUM >= 190000
typedef JsonbInState EsJsonbBuild;
#define EsJsonbPush(b, seq, v) pushJsonbValue(b, seq, v)
#else
typedef struct EsJsonbBuild
{
	JsonbParseState *parseState;
	JsonbValue *result;
} EsJsonbBuild;
#define EsJsonbPush(b, seq, v) ((void) ((b)->result = pushJsonbValue(&(b)->parseState, seq, v)))
#endif
#define EsJsonbBuildInit(b) memset((b), 0, sizeof(EsJsonbBuild))
#define EsJsonbResult(b) ((b)->result)

#endif							/* ES_COMPAT_H */
