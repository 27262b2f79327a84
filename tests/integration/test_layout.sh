#!/bin/bash
# The map cannot drift from the territory (issue 11 item 9): every .c file
# under common/ connectors/ authz/ syncd/ is named, by its path from the
# repository root, in a table row of docs/architecture.md; every source file
# a table row names exists; and every .c/.h file opens with a comment
# saying what it owns (its first line starts with "/*").
set -euo pipefail
. "$(dirname "$0")/../harness/lib.sh"

cd "$H_ROOT"
DOC=docs/architecture.md
DIRS=(common connectors authz syncd)
mapfile -t c_files < <(find "${DIRS[@]}" -type f -name '*.c' | LC_ALL=C sort)
mapfile -t ch_files < <(find "${DIRS[@]}" -type f -name '*.[ch]' | LC_ALL=C sort)
rows=$(grep '^|' "$DOC" || true)

# a path from the root, whole: not the tail of a longer one, not a prefix
named() {
	grep -qE "(^|[^A-Za-z0-9_./-])${1//./\\.}([^A-Za-z0-9_/-]|\$)" <<<"$rows"
}

missing=()
for f in "${c_files[@]}"; do
	named "$f" || missing+=("$f: not named in a table row of $DOC; fix: a row for \`$f\` saying what it owns")
done
if [[ ${#missing[@]} -eq 0 ]]; then
	h_ok "each of the ${#c_files[@]} .c files is named in a table row of $DOC"
else
	h_fail "each .c file is named in a table row of $DOC" "$(printf '%s\n' "${missing[@]}")"
fi

# paths the table names (common/x.c, syncd/sync/y.h, ...) that do not exist
gone=()
while IFS=: read -r line path; do
	[[ -e $path ]] || gone+=("$DOC:$line: names $path, which does not exist; fix: the row names the file that holds the code now")
done < <(grep -n '^|' "$DOC" | grep -oE '^[0-9]+:|(common|connectors|authz|syncd)(/[A-Za-z0-9_-]+)*/[A-Za-z0-9_.-]+\.[ch]\b' |
	awk '/^[0-9]+:$/ { n = $0; next } { print n $0 }')
if [[ ${#gone[@]} -eq 0 ]]; then
	h_ok "every source file a table row of $DOC names exists"
else
	h_fail "every source file a table row of $DOC names exists" "$(printf '%s\n' "${gone[@]}")"
fi

bare=()
for f in "${ch_files[@]}"; do
	[[ $(head -c 2 "$f") == '/*' ]] || bare+=("$f:1: does not open with a comment saying what it owns")
done
if [[ ${#bare[@]} -eq 0 ]]; then
	h_ok "each of the ${#ch_files[@]} .c/.h files opens with a comment"
else
	h_fail "each .c/.h file opens with a comment (first line starts with /*)" "$(printf '%s\n' "${bare[@]}")"
fi
h_summary
