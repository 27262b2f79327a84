#!/bin/bash
# scripts/lint-rules.sh -- the layout rules `make lint` checks by machine
# (issue 11 item 8): function length, include direction, what syncctl links.
#
# usage: scripts/lint-rules.sh [--root DIR] [--rules LIST]
#   --root DIR    check the tree at DIR (default: this script's repository)
#   --rules LIST  some of length,includes,nm (default: all three)
#
# 1. No function in common/ connectors/ authz/ syncd/ is longer than 100
#    lines.  The code is clang-formatted (BreakBeforeBraces: Linux), so a
#    function's body is the "{" at column 0 through the next "}" at column 0;
#    its length is that body's line count, braces included, and its name is
#    the identifier before "(" on the nearest line above that starts at
#    column 0 with a letter.  Exceptions are listed below, each with its
#    reason; an exception for a function that is gone or now short is itself
#    an error, so the list cannot rot.
# 2. Includes run one way: nothing in common/, connectors/ or authz/
#    includes "syncd/..."; nothing in syncd/sync/ includes "syncd/api/...";
#    common/ includes only common/ (of ours: every quoted include).
# 3. build/syncctl (built first if missing) holds none of api_start,
#    stream_run, snapshot_run, audit_append: `nm` proves the daemon's code
#    stays out of the operator's command.
#
# Each violation is one line "file:line: message; fix: ...".  Exit 1 if
# any, 0 otherwise.

set -uo pipefail

LIMIT=100
DIRS=(common connectors authz syncd)
NM_FORBIDDEN=(api_start stream_run snapshot_run audit_append)

# file:function  # reason -- one per line; the reason is required.
EXCEPTIONS='
'

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RULES=length,includes,nm
while [[ $# -gt 0 ]]; do
	case $1 in
	--root) ROOT=$(cd "${2:-}" && pwd) || exit 2; shift 2 ;;
	--rules) RULES=${2:-}; shift 2 ;;
	*) echo "usage: $0 [--root DIR] [--rules length,includes,nm]" >&2; exit 2 ;;
	esac
done
for r in ${RULES//,/ }; do
	case $r in
	length | includes | nm) ;;
	*) echo "$0: unknown rule '$r' (length, includes, nm)" >&2; exit 2 ;;
	esac
done
rule() { [[ ,$RULES, == *,$1,* ]]; }
cd "$ROOT" || exit 2
SELF_REL=$SELF
[[ $SELF == "$ROOT"/* ]] && SELF_REL=${SELF#"$ROOT"/}

bad=0
say() {
	printf '%s\n' "$1"
	bad=$((bad + 1))
}

mapfile -t SOURCES < <(find "${DIRS[@]}" -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | LC_ALL=C sort)

# ---------------------------------------------------------------- 1. length
# "file<TAB>line<TAB>name<TAB>length" for every function in the sources
functions() {
	[[ ${#SOURCES[@]} -gt 0 ]] || return 0
	awk -v OFS='\t' '
	FNR == 1 { sig = ""; sigline = 0; open = 0 }
	!open && /^[A-Za-z_]/ && /\(/ { sig = $0; sigline = FNR }
	!open && /^\{/ {
		open = FNR
		name = sig
		sub(/\(.*/, "", name)
		n = split(name, w, /[^A-Za-z0-9_]+/)
		name = w[n]
		if (name == "") name = "?"
		start = sigline ? sigline : FNR
		next
	}
	open && /^\}/ {
		print FILENAME, start, name, FNR - open + 1
		open = 0; sig = ""; sigline = 0
	}' "${SOURCES[@]}"
}

declare -A EXC_LINE EXC_SEEN FN_LEN

# EXC_LINE[file:function] = the exception's line in this script
exceptions_read() {
	local line key reason lineno
	# the list's first line is the one that opens it: line numbers follow
	lineno=$(($(grep -n "^EXCEPTIONS='" "$SELF" | head -1 | cut -d: -f1) - 1))
	while IFS= read -r line; do
		lineno=$((lineno + 1))
		[[ -n ${line// /} ]] || continue
		key=${line%%#*}
		key=${key%"${key##*[! ]}"}
		reason=''
		[[ $line == *'#'* ]] && reason=${line#*#}
		if [[ $key != ?*:?* || $key == *' '* || -z ${reason// /} ]]; then
			say "$SELF_REL:$lineno: exception '$line' is not 'file:function  # reason'; fix: name the function and say why it may be long"
			continue
		fi
		EXC_LINE[$key]=$lineno
	done <<<"$EXCEPTIONS"
}

check_length() {
	local file line name len key why
	exceptions_read
	while IFS=$'\t' read -r file line name len; do
		key=$file:$name
		# two static functions of one name in a file: the longest speaks for both
		[[ -n ${FN_LEN[$key]:-} && ${FN_LEN[$key]} -ge $len ]] || FN_LEN[$key]=$len
		[[ $len -gt $LIMIT ]] || continue
		if [[ -n ${EXC_LINE[$key]:-} ]]; then
			EXC_SEEN[$key]=1
			continue
		fi
		say "$file:$line: function $name is $len lines long (limit $LIMIT); fix: split it into steps that each do one thing (or list '$key  # reason' in $SELF_REL)"
	done < <(functions)
	for key in "${!EXC_LINE[@]}"; do
		[[ -z ${EXC_SEEN[$key]:-} ]] || continue
		if [[ -z ${FN_LEN[$key]:-} ]]; then
			why="no such function"
		else
			why="it is ${FN_LEN[$key]} lines now, within the limit of $LIMIT"
		fi
		say "$SELF_REL:${EXC_LINE[$key]}: stale exception $key: $why; fix: remove it from EXCEPTIONS"
	done
}

# ---------------------------------------------------------------- 2. includes
check_includes() {
	local file line text inc
	[[ ${#SOURCES[@]} -gt 0 ]] || return 0
	while IFS=: read -r file line text; do
		inc=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$text")
		[[ -n $inc ]] || continue
		case $file in
		common/*)
			[[ $inc == common/* ]] ||
				say "$file:$line: common/ includes \"$inc\", but common/ depends on nothing of ours outside common/; fix: move what it needs into common/, or leave the call to the caller"
			;;
		connectors/* | authz/*)
			[[ $inc != syncd/* ]] ||
				say "$file:$line: ${file%%/*}/ includes \"$inc\", but nothing below syncd/ may depend on it; fix: move the piece down, or pass it in as a parameter"
			;;
		syncd/sync/*)
			[[ $inc != syncd/api/* ]] ||
				say "$file:$line: syncd/sync/ includes \"$inc\", but sync must not know the API; fix: let syncd/api/ call into sync, or move the shared piece to syncd/ or common/"
			;;
		esac
	done < <(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "${SOURCES[@]}")
}

# ---------------------------------------------------------------- 3. nm
check_nm() {
	local syms s
	if [[ ! -x build/syncctl ]]; then
		make --no-print-directory build/syncctl >/dev/null ||
			{ say "build/syncctl:1: cannot be built; fix: run make build/syncctl and read its errors"; return; }
	fi
	syms=$(nm build/syncctl | awk '{print $NF}') ||
		{ say "build/syncctl:1: nm cannot read it; fix: make clean all"; return; }
	for s in "${NM_FORBIDDEN[@]}"; do
		if grep -qx -- "$s" <<<"$syms"; then
			say "build/syncctl:1: contains $s (daemon code in the operator's command); fix: cut the call chain from syncd/ctl/ to $s, so --gc-sections drops it"
		fi
	done
}

if ! rule length && ! rule includes && ! rule nm; then
	echo "$0: no rule to check" >&2
	exit 2
fi
if rule length; then check_length; fi
if rule includes; then check_includes; fi
if rule nm; then check_nm; fi
if [[ $bad -gt 0 ]]; then
	printf 'lint-rules: %d violation(s)\n' "$bad" >&2
	exit 1
fi
exit 0
