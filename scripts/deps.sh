#!/usr/bin/env bash
# Make sure everything needed to build and test is installed; quiet when it is.
# Root installs the missing Debian packages; anyone else is told the command.
# Env: PG_CONFIG (default pg_config) — must belong to PostgreSQL 15.
source "$(dirname "$0")/lib.sh"

# Print what is missing, one item a line; nothing when all is there.
missing() {
	if ! command -v "$PG_CONFIG" >/dev/null; then echo "pg_config ($PG_CONFIG)"; return; fi
	local version
	version=$("$PG_CONFIG" --version)
	case $version in
	"PostgreSQL 15."*) ;;
	*) die "$PG_CONFIG is '$version', need PostgreSQL 15; set PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config" ;;
	esac
	es_pg_paths
	[ -f "$("$PG_CONFIG" --pgxs)" ] || echo "PGXS"
	[ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] || echo "server headers"
	local b
	for b in postgres initdb pg_ctl psql; do [ -x "$PG_BINDIR/$b" ] || echo "$b"; done
	[ -f "$PG_EXTDIR/pgtap.control" ] || echo "pgTAP"
	perl -MIPC::Run -e 1 2>/dev/null || echo "perl IPC::Run"
	[ -x "$PG_REGRESS" ] || echo "pg_regress"
	[ -x "$PG_ISOLATION_REGRESS" ] || echo "pg_isolation_regress"
	[ -f "$PG_PERL_LIB/PostgreSQL/Test/Cluster.pm" ] || echo "PostgreSQL::Test::Cluster"
	command -v prove >/dev/null || echo "prove"
}

need=$(missing)
if [ -n "$need" ]; then
	echo "missing: ${need//$'\n'/, }" >&2
	if ! is_root; then
		echo "sudo apt-get install -y $ES_APT_PACKAGES"
		exit 1
	fi
	apt-get update
	# shellcheck disable=SC2086  # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get install -y $ES_APT_PACKAGES
	need=$(missing)
	[ -z "$need" ] || die "still missing after apt-get install: ${need//$'\n'/, }"
fi
if ! command -v make >/dev/null || ! command -v "$("$PG_CONFIG" --cc | cut -d' ' -f1)" >/dev/null; then
	die "need make and a C compiler: apt-get install -y build-essential"
fi
