#!/bin/sh
# Installs the Debian packages a make target needs, or says how.
# usage: scripts/deps.sh build|check|demo|bench|lint|fuzz
set -eu

build="gcc make pkg-config libpq-dev libldap-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libsystemd-dev libinih-dev libssl-dev libqrencode-dev"
servers="postgresql-15 postgresql-client-15 slapd ldap-utils curl jq openssl"
case "${1:-build}" in
build) want="$build" ;;
check) want="$build libcmocka-dev $servers systemd man-db prometheus xxd" ;;
demo | bench) want="$build $servers" ;;
lint) want="$build clang-format cppcheck" ;;
fuzz) want="$build clang" ;;
*) echo "deps.sh: unknown target $1" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "missing Debian packages; run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
