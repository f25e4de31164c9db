/*
 * guc.c
 *	  The event_streaming.* configuration parameters.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "event_streaming.h"

int			es_max_batch_size = 10000;
int			es_max_read_count = 10000;
int			es_sweep_batch_size = 5000;
int			es_sweep_delay = 50;
char	   *es_worker_databases = NULL;
bool		es_worker_enabled = true;
bool		es_redelivery_enabled = true;
bool		es_retention_enabled = true;
int			es_worker_naptime = 1000;
int			es_retention_interval = 60;
bool		es_projections_enabled = true;
bool		es_notify = false;
int			es_projection_batch_size = 1000;
int			es_max_payload_size = 16384;	/* kB */
int			es_metrics_max_objects = 1000;

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

	DefineCustomIntVariable("event_streaming.sweep_batch_size",
							"Most rows one step of a retention or redelivery sweep changes.",
							"The background worker commits after each step.",
							&es_sweep_batch_size,
							5000, 1, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("event_streaming.sweep_delay",
							"Time the background worker rests between two steps of a sweep.",
							"Bounds how much of the CPU and the WAL a sweep takes from the application.",
							&es_sweep_delay,
							50, 0, 10000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("event_streaming.databases",
							   "Databases the background worker serves, separated by commas.",
							   "Where the extension is not installed, the worker waits for CREATE EXTENSION.",
							   &es_worker_databases,
							   "postgres",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("event_streaming.worker",
							 "Runs the background worker of each served database.",
							 NULL,
							 &es_worker_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("event_streaming.redelivery",
							 "Lets the background worker run the redelivery pass.",
							 NULL,
							 &es_redelivery_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("event_streaming.retention",
							 "Lets the background worker run the retention passes.",
							 NULL,
							 &es_retention_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("event_streaming.naptime",
							"Rest between two redelivery passes of the background worker.",
							NULL,
							&es_worker_naptime,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("event_streaming.retention_interval",
							"Rest between two retention passes of the background worker.",
							NULL,
							&es_retention_interval,
							60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("event_streaming.projections",
							 "Lets the background worker run projections.",
							 NULL,
							 &es_projections_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("event_streaming.notify",
							 "Sends a NOTIFY on es_events and es_events.<category> when a transaction that appended commits.",
							 "Off by default: PostgreSQL serializes the commits of all transactions that notify.",
							 &es_notify,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("event_streaming.projection_batch_size",
							"Most events the worker applies to a projection in one transaction.",
							NULL,
							&es_projection_batch_size,
							1000, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("event_streaming.max_payload_size",
							"Largest JSON value one event or message may carry.",
							"Caps each of an event's data and metadata and a message's payload and headers, as given to es.append*, es.enqueue*.",
							&es_max_payload_size,
							16384, 1, 1048576,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	/* A server-start setting can only be defined while preloading. */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("event_streaming.metrics_max_objects",
								"Most categories and queues, over all databases, whose counters es.metrics keeps.",
								"The counts of objects beyond it go to one dropped counter.",
								&es_metrics_max_objects,
								1000, 16, 1000000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

	MarkGUCPrefixReserved("event_streaming");
}
