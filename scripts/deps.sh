#!/usr/bin/env bash
# Make sure everything needed to build and test is installed; quiet when it is.
# Root installs the missing Debian packages; anyone else is told the command.
# Env: PG_CONFIG (default pg_config): PostgreSQL 15 to 18; with none, 15
# (this host's Debian's) is installed.
source "$(dirname "$0")/lib.sh"

# Print what is missing, one item a line; nothing when all is there.
missing() {
	if ! command -v "$PG_CONFIG" >/dev/null; then echo "pg_config ($PG_CONFIG)"; return; fi
	case $(es_pg_major) in
	15 | 16 | 17 | 18) ;;
	*) die "$PG_CONFIG is '$("$PG_CONFIG" --version)'; event_streaming supports PostgreSQL 15 to 18: set PG_CONFIG to one of those, or PG=17 / PG=18 for Debian's in a root (README)" ;;
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

# If CHECK prints what is missing: as root apt-get install PACKAGES and
# check again; otherwise print the command and stop.
install_missing() {
	local check=$1 packages=$2 need
	need=$($check)
	[ -n "$need" ] || return 0
	echo "missing: ${need//$'\n'/, }" >&2
	if ! is_root; then
		echo "sudo apt-get install -y $packages"
		exit 1
	fi
	apt-get update
	# shellcheck disable=SC2086  # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get install -y $packages
	need=$($check)
	[ -z "$need" ] || die "still missing after apt-get install: ${need//$'\n'/, }"
}

install_missing missing "$(es_apt_packages)"
if ! command -v make >/dev/null || ! command -v "$("$PG_CONFIG" --cc | cut -d' ' -f1)" >/dev/null; then
	die "need make and a C compiler: apt-get install -y build-essential"
fi

# The client examples (examples/, test/t/016_clients.pl): Node.js with npm,
# and psycopg 3 for the system interpreter /usr/bin/python3 (which Debian's
# python3-psycopg serves, whatever python3 comes first in PATH); unzip is
# for test/t/018_packaging.pl.
client_packages() {
	command -v node >/dev/null || echo nodejs
	command -v npm >/dev/null || echo npm
	/usr/bin/python3 -c 'import psycopg' 2>/dev/null || echo python3-psycopg
	command -v unzip >/dev/null || echo unzip
}
# Only the missing ones: a NodeSource nodejs bundles npm and conflicts with
# Debian's npm package.
install_missing client_packages "$(client_packages | tr '\n' ' ')"
# examples/node/node_modules, as the committed package-lock.json pins it;
# readable by all, as the tests run as OS user postgres when root runs them.
node_dir=$ES_REPO/examples/node
if [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
	(cd "$node_dir" && npm ci --no-audit --no-fund)
	chmod -R a+rX "$node_dir/node_modules"
fi

# prometheus-postgres-exporter, for test/t/019_metrics.pl: only the package's
# binary, unpacked under tmp_check/tools.  Installing the package would also
# start its service on this machine.
exporter_deb=prometheus-postgres-exporter
if [ ! -x /usr/bin/$exporter_deb ] && [ ! -x "$ES_EXPORTER" ]; then
	tools=$(dirname "$(dirname "$(dirname "$ES_EXPORTER")")")
	download=$(mktemp -d)
	mkdir -p "$tools"
	if ! (cd "$download" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$exporter_deb" && dpkg-deb -x ./"${exporter_deb}"_*.deb "$tools"); then
		rm -rf "$download"
		die "could not fetch $exporter_deb with apt-get download (run apt-get update first)"
	fi
	rm -rf "$download"
	chmod -R a+rX "$tools"
fi
