/*
 * event_streaming.c
 *	  Entry point of the event_streaming extension.
 *
 * The library must be loaded through shared_preload_libraries: _PG_init only
 * delegates to each module, which defines its settings, reserves its part
 * of shared memory, or registers the background worker's launcher.
 */
#include "postgres.h"

#include "fmgr.h"

#include "event_streaming.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	EsGucInit();
	EsMetricsInit();
	EsShmemInit();
	EsWorkerInit();
}
