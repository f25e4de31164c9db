/*
 * guc.c
 *	  The event_streaming.* configuration parameters.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "event_streaming.h"

int			es_max_batch_size = 10000;
int			es_max_read_count = 10000;

/*
 * Define the settings and reserve the prefix, so that a misspelt
 * event_streaming.* setting is reported instead of silently ignored.
 */
void
EsGucInit(void)
{
	DefineCustomIntVariable("event_streaming.max_batch_size",
							"Largest number of events or messages one call appends, enqueues or claims.",
							NULL,
							&es_max_batch_size,
							10000, 1, 100000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("event_streaming.max_read_count",
							"Largest max_count a read function accepts.",
							NULL,
							&es_max_read_count,
							10000, 1, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("event_streaming");
}
