#!/usr/bin/env bash
# make dist: the PGXN distribution event_streaming-<version>.zip, in the
# repository's top directory, every file under event_streaming-<version>/.
# It is git archive of the committed tree (HEAD): ignored files (build
# output, tmp_check, bench/out) are never in it, nor what .gitattributes
# marks export-ignore; uncommitted changes are not in it either (it says so).
# <version> is default_version of the committed event_streaming.control;
# META.json must give the same version, for the distribution and for the
# extension.
source "$(dirname "$0")/lib.sh"
cd "$ES_REPO"

if ! top=$(git rev-parse --show-toplevel 2>&1); then
	die "$ES_REPO is not a git checkout (git: $top); make dist archives the committed tree: run it in a clone of the repository"
fi
[ "$top" = "$ES_REPO" ] ||
	die "$ES_REPO is not a git checkout (it is inside $top); make dist archives the committed tree: run it in a clone of the repository"

version=$(git show HEAD:event_streaming.control | sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p")
[ -n "$version" ] || die "no default_version in the committed event_streaming.control"
meta=$(git show HEAD:META.json | perl -MJSON::PP -0777 -ne '
	my $m = decode_json($_);
	print "$m->{version} $m->{provides}{event_streaming}{version}\n";') ||
	die "the committed META.json is missing or is not valid JSON"
[ "$meta" = "$version $version" ] ||
	die "META.json gives versions '$meta' (distribution, extension); event_streaming.control's default_version is $version"

[ -z "$(git status --porcelain)" ] ||
	echo "$(basename "$0"): warning: the working tree has uncommitted changes, which are not in the archive (git status)" >&2

zip=event_streaming-$version.zip
git archive --format=zip --prefix="event_streaming-$version/" -o "$zip" HEAD
echo "$zip: event_streaming $version, commit $(git rev-parse --short HEAD)"
