/*
 * lookup.c
 *	  Point look-ups through an index, without the executor.
 *
 * The append path asks three small questions per call (the stream's kind,
 * its last offset, where an event id was stored).  Answering them with a
 * direct index scan costs a fraction of planning-free SPI execution, and
 * appends are the hot path.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "event_streaming.h"

/*
 * Find the first row of es.<relname> whose first index column of
 * es.<indexname> equals key (compared with eqproc), scanning in direction
 * dir under snapshot snap.  On a hit, copy the attributes attnums[0..natts)
 * into values/nulls (in the current memory context) and return true.  An
 * attribute the table does not have (added by an extension version not yet
 * installed in this database) reads as NULL.
 */
bool
EsIndexFirst(const char *relname, const char *indexname, Datum key,
			 RegProcedure eqproc, ScanDirection dir, Snapshot snap,
			 int natts, const AttrNumber *attnums, Datum *values, bool *nulls)
{
	Relation	heap = table_open(EsRelationOid(relname), AccessShareLock);
	Relation	index = index_open(EsRelationOid(indexname), AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexScanDesc scan;
	ScanKeyData skey;
	bool		found;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, eqproc, key);
	skey.sk_collation = index->rd_indcollation[0];

	scan = EsIndexBeginScan(heap, index, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, dir, slot);
	if (found)
	{
		TupleDesc	desc = RelationGetDescr(heap);

		for (int i = 0; i < natts; i++)
		{
			Form_pg_attribute att;
			Datum		d;

			if (attnums[i] > desc->natts)
			{
				values[i] = (Datum) 0;
				nulls[i] = true;
				continue;
			}
			att = TupleDescAttr(desc, attnums[i] - 1);
			d = slot_getattr(slot, attnums[i], &nulls[i]);
			values[i] = nulls[i] ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);

	return found;
}
