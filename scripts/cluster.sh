#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the demo and the tests.
#
#   scripts/cluster.sh start  DIR PORT   wipe DIR (stopping any server in it), initdb, start
#   scripts/cluster.sh stop   DIR [PORT] fast shutdown; files are kept
#   scripts/cluster.sh status DIR [PORT]
#
# DIR/data is the data directory, DIR/log the server log; the unix socket is
# in DIR (or in /tmp if DIR's path is too long for a socket).  No TCP.
# Env: ES_EXTRA_CONF  extra postgresql.conf lines (newline separated)
#      ES_NO_PRELOAD  non-empty: leave out shared_preload_libraries (only for
#                     debugging the harness without a built library)
source "$(dirname "$0")/lib.sh"

usage() { echo "usage: $0 start|stop|status DIR [PORT]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$(realpath -m "$2") port=${3:-}
data=$dir/data
sock=$(es_socket_dir "$dir")
es_pg_paths
pg_ctl() { as_pg "$PG_BINDIR/pg_ctl" -D "$data" "$@"; }
running() { [ -f "$data/postmaster.pid" ] && pg_ctl status >/dev/null 2>&1; }

stop() {
	if running; then pg_ctl stop -m fast -w >/dev/null; echo "stopped the cluster in $dir"; fi
	if [ "$sock" != "$dir" ]; then rm -rf "$sock"; fi
}

start() {
	[ -n "$port" ] || usage
	es_check_pg_access
	if [ -e "$dir" ] && [ ! -e "$dir/.es_cluster" ] && [ -n "$(ls -A "$dir")" ]; then
		die "$dir exists and was not made by $0; not touching it"
	fi
	stop >/dev/null
	rm -rf "$dir"
	mkdir -p "$dir" "$sock"
	touch "$dir/.es_cluster"
	pg_own "$dir" "$sock"
	as_pg "$PG_BINDIR/initdb" -D "$data" -A trust --no-sync -U postgres -E UTF8 --locale=C \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	{
		[ -n "${ES_NO_PRELOAD:-}" ] || echo "shared_preload_libraries = 'event_streaming'"
		echo "port = $port"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$sock'"
		echo "max_prepared_transactions = 10"
		[ -z "${ES_EXTRA_CONF:-}" ] || printf '%s\n' "$ES_EXTRA_CONF"
	} >>"$data/postgresql.conf"
	pg_ctl start -w -l "$dir/log" >/dev/null ||
		{ tail -n 20 "$dir/log" >&2; die "the server did not start; log: $dir/log"; }
	echo "cluster running in $dir: psql -h $sock -p $port -U postgres postgres"
}

case $cmd in
start) start ;;
stop) stop ;;
status) pg_ctl status ;;
*) usage ;;
esac
