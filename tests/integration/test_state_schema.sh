#!/bin/bash
# The state schema has one owner (issue 11 item 2): dist/sql/state/*.sql,
# applied in order, once each, recorded in syncd_schema_version.  A fresh
# database gets every file; a database from before the version table (the
# previous release), even with the audit log handed to syncd_audit_owner,
# is brought up to date without touching what that role owns; two processes
# starting together on an empty database do not race.
set -euo pipefail
. "$(dirname "$0")/../harness/lib.sh"
. "$H_ROOT/tests/harness/city.sh"

h_init
h_pg_start
h_city_setup 1000
SYNCCTL=$H_BUILD/syncctl
versions() { h_psql -d "${1:-syncd_state}" -c "SELECT string_agg(version || ':' || name, ' ' ORDER BY version)
                                               FROM public.syncd_schema_version"; }
want=$(cd "$H_ROOT/dist/sql/state" && ls [0-9]*.sql | awk '{ printf "%s%d:%s", (NR > 1 ? " " : ""), $0 + 0, $0 }')

# ---------------------------------------------------------------- a fresh database
"$H_SYNCD" -c "$H_CONF" --once >/dev/null 2>"$H_TMP/once.err" || { cat "$H_TMP/once.err"; exit 1; }
h_syncd_start && h_ok "syncd starts on an empty state database" || { h_summary; exit 1; }
pid=$H_SYNCD_PID
h_assert_eq "every file is applied once, in order" "$want" "$(versions)"
h_assert_eq "the tables of all three files are there" "9" "$(h_psql -d syncd_state -c "SELECT count(*) FROM pg_tables
    WHERE schemaname = 'public' AND tablename IN ('syncd_quarantine', 'syncd_checkpoint', 'syncd_unit_state',
    'syncd_request', 'syncd_snapshot', 'syncd_audit', 'syncd_audit_head', 'syncd_doc_seq', 'syncd_documents')")"
kill -TERM "$pid"; wait "$pid" || true
at=$(h_psql -d syncd_state -c "SELECT max(applied_at) FROM public.syncd_schema_version")
h_syncd_start && pid=$H_SYNCD_PID
h_assert_eq "a second start applies nothing" "$at" \
    "$(h_psql -d syncd_state -c "SELECT max(applied_at) FROM public.syncd_schema_version")"
kill -TERM "$pid"; wait "$pid" || true

# ---------------------------------------------------------------- the previous release, audit handed over
h_psql -d syncd_state -v syncd_role=syncd -f "$H_ROOT/dist/sql/audit-owner.sql" >/dev/null
h_psql -d syncd_state -c "DROP TABLE public.syncd_schema_version"
: >"$H_TMP/daemon.log"
h_syncd_start && h_ok "syncd starts on a database from before syncd_schema_version, audit log handed over" ||
    { tail -5 "$H_TMP/daemon.log"; h_summary; exit 1; }
pid=$H_SYNCD_PID
grep -q "tables from before syncd_schema_version" "$H_TMP/daemon.log" &&
    h_ok "the log says it brings an older database up to date" || h_fail "upgrade line" "$(tail -3 "$H_TMP/daemon.log")"
h_assert_eq "every file is recorded again" "$want" "$(versions)"
h_assert_eq "syncd_audit_owner still owns the log; syncd may SELECT, not INSERT" "syncd_audit_owner syncd_audit_owner t f" \
    "$(h_psql -d syncd_state -c "SELECT concat_ws(' ', pg_get_userbyid((SELECT relowner FROM pg_class WHERE oid = 'public.syncd_audit'::regclass)),
      pg_get_userbyid((SELECT proowner FROM pg_proc WHERE oid = 'public.syncd_audit_lock()'::regprocedure)),
      has_table_privilege('syncd', 'public.syncd_audit', 'SELECT'), has_table_privilege('syncd', 'public.syncd_audit', 'INSERT'))")"
kill -TERM "$pid"; wait "$pid" || true

# ---------------------------------------------------------------- two at once on an empty database
h_psql -d postgres -c "CREATE DATABASE syncd_state2 OWNER syncd"
sed "s|dbname=syncd_state |dbname=syncd_state2 |" "$H_CONF" >"$H_TMP/two.conf"
grep -q "dbname=syncd_state2 " "$H_TMP/two.conf" || { h_fail "second state database in the config" "$(grep conninfo "$H_TMP/two.conf")"; h_summary; exit 1; }
for i in 1 2 3; do
    "$SYNCCTL" -c "$H_TMP/two.conf" resync --unit 31120 --no-wait >"$H_TMP/two.$i.out" 2>&1 &
done
rc=0
for i in 1 2 3; do wait -n || rc=$?; done
h_assert_eq "three syncctl started together all succeed" "0" "$rc"
h_assert_eq "the files are applied once" "$want" "$(versions syncd_state2)"
h_summary
