/*
 * notify.c
 *	  What a transaction that appended does at commit: one NOTIFY on
 *	  es_events, one on es_events.<category> per category it appended to,
 *	  and a wake-up for its database's worker when projections run there.
 *
 * Only with event_streaming.notify on: PostgreSQL takes one lock for the
 * whole server from the moment a transaction queues its notifications to
 * the end of its commit, so notifying transactions commit one at a time.
 *
 * The payload is the highest global position the transaction appended.
 * Past MAX_CATEGORY_CHANNELS categories in one transaction, the others get
 * no notification of their own (es_events still goes out).
 * Notifications go out just before commit (PostgreSQL delivers them only
 * if the transaction commits), so listeners hear of each transaction once,
 * never of one that aborted.  An append rolled back with a savepoint still
 * counts: a listener woken for nothing reads nothing.  A prepared
 * transaction cannot notify; listeners hear nothing of it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "event_streaming.h"

#define CHANNEL "es_events"

/* Past this many categories in one transaction, only es_events is told. */
#define MAX_CATEGORY_CHANNELS 64

static List *categories = NIL;	/* in TopTransactionContext */
static int64 last_position = 0;
static bool wake_worker = false;

/* Remember an append of n events to stream that took positions up to `position`. */
void
EsNoteAppend(const char *stream, int64 position, int64 n)
{
	const char *dash;
	int			len;
	ListCell   *lc;
	MemoryContext old;

	dash = strchr(stream, '-');
	len = dash ? (int) (dash - stream) : (int) strlen(stream);
	EsCountAppended(stream, len, n);
	last_position = Max(last_position, position);
	wake_worker = true;
	if (!es_notify || list_length(categories) >= MAX_CATEGORY_CHANNELS)
		return;
	foreach(lc, categories)
	{
		const char *c = lfirst(lc);

		if ((int) strlen(c) == len && strncmp(c, stream, len) == 0)
			return;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	categories = lappend(categories, pnstrdup(stream, len));
	MemoryContextSwitchTo(old);
}

/* Wake the worker at commit: projections to start or resume, migrations requested. */
void
EsWakeWorkerAtCommit(void)
{
	wake_worker = true;
}

static void
Notify(void)
{
	char		payload[32];
	ListCell   *lc;

	snprintf(payload, sizeof(payload), INT64_FORMAT, last_position);
	Async_Notify(CHANNEL, payload);
	foreach(lc, categories)
	{
		const char *c = lfirst(lc);
		char		channel[NAMEDATALEN];
		int			room = NAMEDATALEN - 1 - (int) strlen(CHANNEL ".");
		int			len = pg_mbcliplen(c, strlen(c), room);

		/* A category too long for a channel name is cut: a spare wake-up. */
		snprintf(channel, sizeof(channel), CHANNEL ".%.*s", len, c);
		Async_Notify(channel, payload);
	}
}

/*
 * Called by the transaction callback of shmem.c, so that the worker is woken
 * only after this backend's claim on positions is gone: woken earlier, it
 * could find the events not yet settled and go back to sleep.
 */
void
EsNotifyXactEvent(XactEvent event)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (last_position > 0 && es_notify)
				Notify();
			break;
		case XACT_EVENT_COMMIT:
			if (wake_worker)
				EsWakeWorker(last_position > 0);
			EsFallthrough;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			categories = NIL;
			last_position = 0;
			wake_worker = false;
			break;
		default:
			break;
	}
}
