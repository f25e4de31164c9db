#!/usr/bin/env bash
# A Debian root holding another PostgreSQL major, for servers that Debian 12
# (this host) does not ship: their packages need a newer libc, so they run in
# a root made with debootstrap from Debian's archive.
#
#   scripts/pgroot.sh path MAJOR          make the root if missing; print its path
#   scripts/pgroot.sh run MAJOR CMD...    run CMD in the root, in this repo's
#                                         directory, under a clean environment
#
#   MAJOR  17: Debian trixie (postgresql-17)   18: Debian forky (postgresql-18)
#
# Each root also holds PostgreSQL 15 from Debian 12 (bookworm, pinned low), so
# that pg_upgrade from 15 can run inside it with both servers' binaries.
#
# Roots are cached outside the repository, in ES_ROOT_CACHE (default
# /var/cache/event_streaming/roots): the first run takes minutes, a later one
# starts at once.  A root is made in DIR.new and renamed when complete.
# Making and entering a root needs root (debootstrap, chroot, mounts).
source "$(dirname "$0")/lib.sh"

usage() { echo "usage: $0 path MAJOR | run MAJOR CMD..." >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 major=$2
shift 2

# next: a suite whose packages of the next major are only downloaded, for
# the compile check (scripts/compile_check.sh).
# PostgreSQL 15 comes from Debian 12, as the host has it: its security
# updates (old15=bookworm-security), or its point release (old15=bookworm)
# where the root's server cannot pg_upgrade from the newer one.
case $major in
17) suite=trixie script=trixie old15=bookworm-security ;;
# bookworm's debootstrap has no forky script; forky is made like sid.
# forky's 18.6 cannot read what 15.20 (bookworm-security) writes: 15.20 and
# 17.12 keep a "pg_attver" option on every column, which 18.6's pg_restore
# refuses (unrecognized parameter), so pg_upgrade from 15.20 fails for any
# table.  15.18, bookworm's point release, has no such option.
18) suite=forky script=sid old15=bookworm next=experimental ;;
*) die "PostgreSQL $major has no root: supported are 17 (trixie) and 18 (forky); 15 runs on this host" ;;
esac

mirror=http://deb.debian.org/debian
cache=${ES_ROOT_CACHE:-/var/cache/event_streaming/roots}
root=$cache/pg$major-$suite

# What the suite needs in the root: the server, its headers and PGXS, pgTAP,
# IPC::Run and prove, a compiler, git (make dist), what the client examples
# and the metrics test use, PgQ for bench/queue.sh, and PostgreSQL 15 with
# its headers for the pg_upgrade test (the extension is built for it in the
# root).
packages="postgresql-$major postgresql-server-dev-$major postgresql-$major-pgtap
	libipc-run-perl perl make gcc libc6-dev git procps ca-certificates
	nodejs npm python3-psycopg unzip prometheus-postgres-exporter postgresql-$major-pgq3
	postgresql-15/$old15 postgresql-client-15/$old15 postgresql-server-dev-15/$old15"

# What a root was made with: when it changes, the root is brought up to it.
stamp="$packages ${next:-}"

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# Install PACKAGES in the root (it is mounted); apt's cache is cleaned after.
root_install() {
	in_root apt-get update -q
	# shellcheck disable=SC2086  # a list of package names
	in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		--allow-downgrades $packages
	in_root apt-get clean
}

# Mount what a root needs, in a private mount namespace so that everything
# goes when the command ends: proc, /dev with its own /dev/shm (the server's
# shared memory), and the repository at the same path as on the host.
# Then runs "$@"; the commands __install and __run below call it through
# unshare.
mounted() {
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=1777,size=2g tmpfs "$root/dev/shm"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	mkdir -p "$root$ES_REPO"
	mount --bind "$ES_REPO" "$root$ES_REPO"
	"$@"
}

# Settings of a root in DIR, made before its packages are installed; written
# again when they are updated.
configure() {
	local dir=$1
	# A testing suite's Release file may count as expired; no recommends.
	cat >"$dir/etc/apt/apt.conf.d/90event-streaming" <<-EOF
		Acquire::Check-Valid-Until "false";
		APT::Install-Recommends "false";
	EOF
	echo "deb $mirror $suite main" >"$dir/etc/apt/sources.list"
	# PostgreSQL 15 comes from bookworm ($old15), and only what $suite lacks.
	cat >"$dir/etc/apt/sources.list.d/bookworm.list" <<-EOF
		deb $mirror bookworm main
		deb ${mirror%/debian}/debian-security bookworm-security main
	EOF
	{
		printf 'Package: *\nPin: release n=bookworm\nPin-Priority: 100\n\n'
		if [ "$old15" = bookworm ]; then
			printf 'Package: *\nPin: release n=bookworm-security\nPin-Priority: -1\n'
		else
			printf 'Package: *\nPin: release n=bookworm-security\nPin-Priority: 100\n'
		fi
	} >"$dir/etc/apt/preferences.d/bookworm"
	# The next major's packages: never installed, only downloaded.
	if [ -n "${next:-}" ]; then
		echo "deb $mirror $next main" >"$dir/etc/apt/sources.list.d/$next.list"
		printf 'Package: *\nPin: release a=%s\nPin-Priority: 1\n' "$next" >"$dir/etc/apt/preferences.d/$next"
	fi
	# No service starts in the root, and installing a server creates no
	# cluster (it would take port 5432, which the root shares with the host).
	printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
	chmod +x "$dir/usr/sbin/policy-rc.d"
	mkdir -p "$dir/etc/postgresql-common"
	echo "create_main_cluster = false" >"$dir/etc/postgresql-common/createcluster.conf"
	# This machine's TLS may go through a proxy whose CA the host trusts.
	mkdir -p "$dir/usr/local/share/ca-certificates"
	cp -r /usr/local/share/ca-certificates/. "$dir/usr/local/share/ca-certificates/" 2>/dev/null || true
}

make_root() {
	is_root || die "making the PostgreSQL $major root needs root (debootstrap); run as root: $0 path $major"
	command -v debootstrap >/dev/null || {
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
	} || die "could not install debootstrap"
	local new=$root.new
	rm -rf "$new"
	mkdir -p "$cache"
	echo "making the PostgreSQL $major root (Debian $suite) in $new; this takes minutes" >&2
	debootstrap --variant=minbase "$suite" "$new" "$mirror" \
		"/usr/share/debootstrap/scripts/$script" >"$cache/debootstrap-$major.log" 2>&1 ||
		{ tail -n 20 "$cache/debootstrap-$major.log" >&2; die "debootstrap of $suite failed; log: $cache/debootstrap-$major.log"; }
	configure "$new"
	root=$new
	unshare --mount --propagation private bash "$0" __install "$major" "$new" ||
		die "installing packages in the PostgreSQL $major root failed"
	in_root update-ca-certificates >/dev/null 2>&1 || true
	echo "$stamp" >"$new/.es-packages"
	mv "$new" "${new%.new}"
	root=${new%.new}
}

case $cmd in
__install)
	root=$1
	mounted root_install
	exit ;;
__run)
	root=$1
	shift
	mounted in_root "$@"
	exit ;;
path | run) ;;
*) usage ;;
esac

if [ ! -d "$root" ]; then
	make_root
elif [ "$(cat "$root/.es-packages" 2>/dev/null)" != "$stamp" ]; then
	# The list changed since the root was made: add what is missing.
	is_root || die "the PostgreSQL $major root needs new packages; run as root: $0 path $major"
	configure "$root"
	unshare --mount --propagation private bash "$0" __install "$major" "$root" ||
		die "installing packages in the PostgreSQL $major root failed"
	echo "$stamp" >"$root/.es-packages"
fi

case $cmd in
path) echo "$root" ;;
run)
	[ $# -gt 0 ] || usage
	is_root || die "entering the PostgreSQL $major root needs root (chroot, mounts)"
	exec unshare --mount --propagation private bash "$0" __run "$major" "$root" \
		bash -c 'cd "$1" && shift && exec "$@"' - "$ES_REPO" "$@" ;;
esac
