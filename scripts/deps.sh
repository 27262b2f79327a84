#!/bin/sh
# Installs the Debian packages a make target needs, or says how; for the
# browser tests also the npm packages pinned in tests/browser/package-lock.json.
# usage: scripts/deps.sh build|check|demo|bench|lint|fuzz|browser
set -eu

build="gcc make pkg-config libpq-dev libldap-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libsystemd-dev libinih-dev libssl-dev libqrencode-dev zlib1g-dev"
servers="postgresql-15 postgresql-client-15 slapd ldap-utils curl jq openssl python3"
browser="chromium nodejs npm zbar-tools"
npm_too=0
case "${1:-build}" in
build) want="$build" ;;
check) want="$build libcmocka-dev $servers systemd man-db prometheus xxd librsvg2-bin $browser" npm_too=1 ;;
demo) want="$build $servers" ;;
bench) want="$build $servers time" ;;
lint) want="$build clang-format cppcheck" ;;
fuzz) want="$build clang libclang-rt-dev" ;; # libFuzzer, ASan and UBSan: a Recommends of clang's, not pulled without
browser) want="$browser" npm_too=1 ;;
*) echo "deps.sh: unknown target $1" >&2; exit 2 ;;
esac

# A package is there when dpkg says so; node and npm also count when another
# nodejs package provides the commands (one that bundles npm conflicts with
# Debian's npm, so asking apt for it would fail).
have() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
	case $1 in
	nodejs) command -v node >/dev/null ;;
	npm) command -v npm >/dev/null ;;
	*) return 1 ;;
	esac
}

missing=""
for p in $want; do
	have "$p" || missing="$missing $p"
done

if [ -n "$missing" ]; then
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
fi
[ "$npm_too" -eq 1 ] || exit 0

# playwright-core and axe-core at the versions the lock file pins, into
# tests/browser/node_modules; skipped while the installed lock is the same.
# playwright-core downloads no browser: the tests drive /usr/bin/chromium.
dir=$(cd "$(dirname "$0")/../tests/browser" && pwd)
stamp="$dir/node_modules/.syncd-package-lock.json"
cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null && exit 0
echo "npm ci in tests/browser (playwright-core, axe-core)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cp "$dir/package-lock.json" "$stamp"
