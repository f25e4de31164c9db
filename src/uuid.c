/*
 * uuid.c
 *	  Generated identifiers: event ids and delivery receipts.
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "datatype/timestamp.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "event_streaming.h"

/*
 * A receipt: a version 4 UUID whose 122 random bits come from the strong
 * random source.  Receipts guard deliveries, so they must not be
 * predictable from other receipts the same backend handed out.
 */
void
EsNewReceipt(pg_uuid_t *uuid)
{
	if (!pg_strong_random(uuid->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	uuid->data[6] = (uuid->data[6] & 0x0f) | 0x40;
	uuid->data[8] = (uuid->data[8] & 0x3f) | 0x80;
}

/*
 * A version 7 UUID (millisecond time, then 74 random bits), so that ids
 * generated together sit together in an index.
 *
 * The random bits come from a per-backend xoshiro generator seeded once
 * from the strong random source: ids need to be unique and unguessable by
 * accident, not secret, and a strong random call per id costs more than the
 * rest of an append.  Used for event ids.
 */
void
EsNewUuid(pg_uuid_t *uuid)
{
	static pg_prng_state prng;
	static bool seeded = false;
	uint64		ms = (uint64) (GetCurrentTimestamp() / 1000 +
							   (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000);
	uint64		r1;
	uint64		r2;

	if (!seeded)
	{
		if (!pg_prng_strong_seed(&prng))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random values")));
		seeded = true;
	}
	r1 = pg_prng_uint64(&prng);
	r2 = pg_prng_uint64(&prng);
	for (int i = 0; i < 6; i++)
		uuid->data[i] = (unsigned char) (ms >> (40 - 8 * i));
	for (int i = 0; i < 2; i++)
		uuid->data[6 + i] = (unsigned char) (r1 >> (8 * i));
	for (int i = 0; i < 8; i++)
		uuid->data[8 + i] = (unsigned char) (r2 >> (8 * i));
	uuid->data[6] = (uuid->data[6] & 0x0f) | 0x70;
	uuid->data[8] = (uuid->data[8] & 0x3f) | 0x80;
}
