#!/bin/bash
# The audit log cannot be hidden by syncd's own database role (issue 10):
# after dist/sql/audit-owner.sql a session as syncd cannot change, delete,
# truncate or forge rows, nor disable the trigger, and a schema of its own
# that shadows the tables through search_path catches nothing: syncd keeps
# appending to public.syncd_audit and verify stays intact.  A superuser who
# deletes the newest rows (with or without setting the head back) is caught.
# A request with bytes that are not UTF-8 is audited with U+FFFD and does not
# fail the other requests of its batch.
set -euo pipefail
. "$(dirname "$0")/../harness/city.sh"

h_city_start 1000
h_city_ldap 2
SYNCCTL=$H_BUILD/syncctl
h_ldap_users "Lê Thị" admin1 chair1 reg1
h_ldap_group_add city_admin admin1
h_syncd_set "signing_key_file=$(h_signing_key)" "audit_checkpoint_file=$H_TMP/checkpoints" audit_checkpoint_every=5
API=http://127.0.0.1:$H_API_PORT
h_syncd_once

start() { h_syncd_start && pid=$H_SYNCD_PID; }
stop() { kill -TERM "$pid"; wait "$pid" || true; }
api() { h_api "$@"; }
check() { api reg1 GET '/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120'; }
# a session as syncd's own role, the insider
as_syncd() { "${H_PG_BINDIR:-$(_h_pg_bindir)}/psql" -X -q -v ON_ERROR_STOP=1 -At \
    "host=127.0.0.1 port=$PGPORT dbname=syncd_state user=syncd" "$@"; }
rows() { h_psql -d syncd_state -c "SELECT count(*) FROM public.syncd_audit"; }
verify_local() { "$SYNCCTL" -c "$H_CONF" audit verify 2>&1; }

start
h_assert_eq "admin grants unit_chair (201)" 201 \
    "$(api admin1 POST /v1/grants '{"grantee":"chair1","role":"unit_chair","unit":"31120","may_delegate":1}')"
h_assert_eq "chair grants civil_registrar (201)" 201 \
    "$(api chair1 POST /v1/grants '{"grantee":"reg1","role":"civil_registrar","unit":"31120"}')"
h_assert_eq "an audited check (200)" 200 "$(check)"
grep -q "may change or own the audit log" "$H_TMP/daemon.log" &&
    h_ok "before audit-owner.sql syncd warns that its role owns the log" ||
    h_fail "the ownership warning" "$(tail -3 "$H_TMP/daemon.log")"
stop

# ---------------------------------------------------------------- the log handed to its owner
h_psql -d syncd_state -v syncd_role=syncd -f "$H_ROOT/dist/sql/audit-owner.sql" >/dev/null
h_psql -d syncd_state -v syncd_role=syncd -f "$H_ROOT/dist/sql/audit-owner.sql" >/dev/null &&
    h_ok "audit-owner.sql runs twice" || h_fail "audit-owner.sql twice" "failed"
h_assert_eq "syncd may SELECT both tables, write neither, and EXECUTE the two functions" \
    "t t f f f f f f f f f f t t f" "$(h_psql -d syncd_state -c "SELECT concat_ws(' ',
      has_table_privilege('syncd', 'public.syncd_audit', 'SELECT'),
      has_table_privilege('syncd', 'public.syncd_audit_head', 'SELECT'),
      has_table_privilege('syncd', 'public.syncd_audit', 'INSERT'),
      has_table_privilege('syncd', 'public.syncd_audit', 'UPDATE'),
      has_table_privilege('syncd', 'public.syncd_audit', 'DELETE'),
      has_table_privilege('syncd', 'public.syncd_audit', 'TRUNCATE'),
      has_table_privilege('syncd', 'public.syncd_audit', 'TRIGGER'),
      has_table_privilege('syncd', 'public.syncd_audit_head', 'INSERT'),
      has_table_privilege('syncd', 'public.syncd_audit_head', 'UPDATE'),
      has_table_privilege('syncd', 'public.syncd_audit_head', 'DELETE'),
      has_table_privilege('syncd', 'public.syncd_audit_head', 'TRUNCATE'),
      pg_has_role('syncd', 'syncd_audit_owner', 'USAGE'),
      has_function_privilege('syncd', 'public.syncd_audit_lock()', 'EXECUTE'),
      has_function_privilege('syncd', 'public.syncd_audit_append(bigint, timestamptz, text, text, text, text, text, text, text, text, bytea, bytea, bytea)', 'EXECUTE'),
      has_function_privilege('syncd', 'public.syncd_audit_refuse()', 'EXECUTE'))")"
: >"$H_TMP/daemon.log"
start
h_assert_eq "syncd appends to the log it no longer owns (200)" 200 "$(check)"
grep -q "may change or own the audit log" "$H_TMP/daemon.log" &&
    h_fail "no ownership warning after audit-owner.sql" "$(grep 'own the audit' "$H_TMP/daemon.log")" ||
    h_ok "no ownership warning after audit-owner.sql"

# ---------------------------------------------------------------- the insider, as syncd's role
n0=$(rows)
refused() { # LABEL SQL
    if as_syncd -c "$2" >/dev/null 2>"$H_TMP/err"; then
        h_fail "as syncd: $1 is refused" "it went through"
    else
        h_ok "as syncd: $1 is refused ($(head -1 "$H_TMP/err" | cut -c1-90))"
    fi
}
refused "DELETE" "DELETE FROM public.syncd_audit"
refused "DELETE of the newest row" "DELETE FROM public.syncd_audit WHERE seq = (SELECT max(seq) FROM public.syncd_audit)"
refused "UPDATE of a row" "UPDATE public.syncd_audit SET reason = 'x' WHERE seq = 1"
refused "UPDATE of the head" "UPDATE public.syncd_audit_head SET seq = seq - 1"
refused "TRUNCATE" "TRUNCATE public.syncd_audit"
refused "TRUNCATE of the head" "TRUNCATE public.syncd_audit_head"
refused "INSERT of a row" "INSERT INTO public.syncd_audit SELECT seq + 1000, at, actor, client, request_id, action, unit, object, decision, reason, body, prev_hash, hash FROM public.syncd_audit WHERE seq = 1"
refused "ALTER TABLE ... DISABLE TRIGGER" "ALTER TABLE public.syncd_audit DISABLE TRIGGER USER"
refused "DROP TABLE" "DROP TABLE public.syncd_audit"
refused "CREATE OR REPLACE of the append function" "CREATE OR REPLACE FUNCTION public.syncd_audit_append(p_seq bigint, p_at timestamptz, p_actor text, p_client text, p_request_id text, p_action text, p_unit text, p_object text, p_decision text, p_reason text, p_body bytea, p_prev bytea, p_hash bytea) RETURNS void LANGUAGE sql AS 'SELECT'"
refused "ALTER SCHEMA public RENAME" "ALTER SCHEMA public RENAME TO old"
forge() { # SEQ PREV HASH: a forged row through the append function
    echo "SELECT public.syncd_audit_append($1, now(), 'mallory', '127.0.0.1', 'f', 'grant.create', '31120', 'x', 'allow', '', convert_to('{}', 'UTF8'), $2, $3)"
}
head_now="(SELECT hash FROM public.syncd_audit_head)"
next="(SELECT seq + 1 FROM public.syncd_audit_head)"
refused "a forged row with a bad hash" "$(forge "$next" "$head_now" "sha256('x')")"
refused "a forged row with the wrong seq" "$(forge "(SELECT seq + 5 FROM public.syncd_audit_head)" "$head_now" "sha256($head_now || convert_to('{}', 'UTF8'))")"
refused "a forged row with the wrong prev_hash" "$(forge "$next" "sha256('x')" "sha256(sha256('x') || convert_to('{}', 'UTF8'))")"
refused "a forged row replacing seq 1" "$(forge 1 "decode(repeat('00', 32), 'hex')" "sha256(decode(repeat('00', 32), 'hex') || convert_to('{}', 'UTF8'))")"
h_assert_eq "the log is unchanged by all of this" "$n0" "$(rows)"

# ---------------------------------------------------------------- the search_path shadow
as_syncd -c "CREATE SCHEMA syncd" \
    -c "CREATE TABLE syncd.syncd_audit (LIKE public.syncd_audit)" \
    -c "CREATE TABLE syncd.syncd_audit_head (LIKE public.syncd_audit_head)" \
    -c "INSERT INTO syncd.syncd_audit_head VALUES (1, 0, decode(repeat('00', 32), 'hex'))" \
    -c "CREATE FUNCTION syncd.syncd_audit_lock() RETURNS TABLE(seq bigint, hash bytea) LANGUAGE sql AS 'SELECT seq, hash FROM syncd.syncd_audit_head'" \
    -c "CREATE FUNCTION syncd.syncd_audit_append(p_seq bigint, p_at timestamptz, p_actor text, p_client text, p_request_id text, p_action text, p_unit text, p_object text, p_decision text, p_reason text, p_body bytea, p_prev bytea, p_hash bytea) RETURNS void LANGUAGE sql AS 'SELECT'" \
    -c "CREATE FUNCTION public.syncd_audit_append(p_seq text, p_at text, p_actor text, p_client text, p_request_id text, p_action text, p_unit text, p_object text, p_decision text, p_reason text, p_body text, p_prev text, p_hash text) RETURNS void LANGUAGE sql AS 'SELECT'" \
    >/dev/null 2>"$H_TMP/err" && h_ok "as syncd: a shadow schema, tables, functions and an all-text overload" ||
    h_fail "shadow setup" "$(cat "$H_TMP/err")"
as_syncd -c "SHOW search_path" | grep -q '"\$user"' && h_ok "... and syncd's default search_path starts with its own schema" ||
    h_fail "default search_path" "$(as_syncd -c 'SHOW search_path')"
stop
start # the daemon's new connections see the shadow from their first query
n1=$(rows)
for ((i = 0; i < 4; i++)); do check >/dev/null; done
h_assert_eq "an audited check after the shadow (200)" 200 "$(check)"
h_assert_eq "the new rows land in public.syncd_audit" $((n1 + 5)) "$(rows)"
h_assert_eq "the shadow tables stay empty" "0 0" \
    "$(h_psql -d syncd_state -c "SELECT (SELECT count(*) FROM syncd.syncd_audit) || ' ' || (SELECT seq FROM syncd.syncd_audit_head)")"
out=$(verify_local) && rc=0 || rc=$?
h_assert_eq "syncctl audit verify: exit 0" 0 "$rc"
grep -q 'audit log intact' <<<"$out" && h_ok "... intact" || h_fail "verify output" "$out"

# ---------------------------------------------------------------- bytes that are not UTF-8
n2=$(rows)
: >"$H_TMP/statuses"
( for ((i = 0; i < 40; i++)); do
    curl -s -o /dev/null -w '%{http_code}\n' -u reg1:pw-reg1-secret \
        "$API/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120" >>"$H_TMP/statuses"
done ) &
loop=$!
# the failed logins come from 127.0.0.2: the login throttle slows an address
# that fails, and the other client's address must not pay for them
for ((i = 0; i < 10; i++)); do
    curl -s -o /dev/null --path-as-is "$API/v1/documents/%FF%FE/verify" || true
    ((i % 2)) || curl -s -o /dev/null --interface 127.0.0.2 \
        -H "Authorization: Basic $(printf '\xff\xc3%d:pw' "$i" | base64)" \
        "$API/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120" || true
done
wait "$loop"
h_assert_eq "the other client: 40 requests, every one 200" "40 40" \
    "$(wc -l <"$H_TMP/statuses") $(grep -cx 200 "$H_TMP/statuses")"
bad=$(h_psql -d syncd_state -c "SELECT count(*) FROM public.syncd_audit WHERE seq > $n2 AND (actor LIKE '%'||chr(65533)||'%' OR object LIKE '%'||chr(65533)||'%')")
h_assert_eq "the bad requests are audited with U+FFFD (10 paths, 5 logins)" 15 "$bad"
h_assert_eq "... the logins as actor U+FFFD U+FFFD and a digit (each uid once: no throttle)" 5 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM public.syncd_audit WHERE seq > $n2 AND actor ~ ('^' || repeat(chr(65533), 2) || '[0-9]$') AND action = 'login'")"
h_assert_eq "... and each of the other client's checks is audited" 40 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM public.syncd_audit WHERE seq > $n2 AND actor = 'reg1' AND action = 'authz.check'")"

# ---------------------------------------------------------------- a row the database refuses
# (a constraint stands in for any row the append function raises on): only
# its own request fails; the rows batched with it are written one by one
h_psql -d syncd_state -c "ALTER TABLE public.syncd_audit ADD CONSTRAINT poison CHECK (object NOT LIKE '%poison%')"
n3=$(rows)
: >"$H_TMP/statuses" && : >"$H_TMP/poisoned"
( for ((i = 0; i < 40; i++)); do
    curl -s -o /dev/null -w '%{http_code}\n' -u reg1:pw-reg1-secret \
        "$API/v1/authz/check?user=reg1&action=civil.extract.issue&unit=31120" >>"$H_TMP/statuses"
done ) &
loop=$!
for ((i = 0; i < 20; i++)); do
    curl -s -o /dev/null -w '%{http_code}\n' "$API/v1/documents/poison$i/verify" >>"$H_TMP/poisoned" || true
done
wait "$loop"
h_psql -d syncd_state -c "ALTER TABLE public.syncd_audit DROP CONSTRAINT poison"
h_assert_eq "a refused row: the other client's 40 requests all 200" "40 40" \
    "$(wc -l <"$H_TMP/statuses") $(grep -cx 200 "$H_TMP/statuses")"
h_assert_eq "... all 40 audited" 40 \
    "$(h_psql -d syncd_state -c "SELECT count(*) FROM public.syncd_audit WHERE seq > $n3 AND actor = 'reg1'")"
h_assert_eq "... and no refused request answered 200" 0 "$(grep -cx 200 "$H_TMP/poisoned" || true)"
grep -q 'syncd_audit_append.*poison' "$H_TMP/daemon.log" && h_ok "... the log names the refused row" ||
    h_fail "refused row in the log" "$(grep -i poison "$H_TMP/daemon.log" | head -2)"
out=$(verify_local) && rc=0 || rc=$?
h_assert_eq "verify after the bad bytes and the refused rows: exit 0" 0 "$rc"
stop

# ---------------------------------------------------------------- a superuser deletes the newest rows
h_psql -d syncd_state -c "CREATE TABLE bak AS SELECT * FROM public.syncd_audit; CREATE TABLE bak_head AS SELECT * FROM public.syncd_audit_head"
restore() {
    h_psql -d syncd_state -c "ALTER TABLE public.syncd_audit DISABLE TRIGGER USER" -c "DELETE FROM public.syncd_audit" \
        -c "INSERT INTO public.syncd_audit SELECT * FROM bak" \
        -c "UPDATE public.syncd_audit_head h SET seq = b.seq, hash = b.hash FROM bak_head b" \
        -c "ALTER TABLE public.syncd_audit ENABLE TRIGGER USER" >/dev/null
}
last=$(rows)
h_psql -d syncd_state -c "ALTER TABLE public.syncd_audit DISABLE TRIGGER USER" \
    -c "DELETE FROM public.syncd_audit WHERE seq > $((last - 3))" \
    -c "UPDATE public.syncd_audit_head SET seq = a.seq, hash = a.hash FROM public.syncd_audit a WHERE a.seq = $((last - 3))" \
    -c "ALTER TABLE public.syncd_audit ENABLE TRIGGER USER" >/dev/null
out=$(verify_local) && rc=0 || rc=$?
h_assert_eq "the last 3 rows deleted and the head set back: verify exits 1" 1 "$rc"
grep -q "BROKEN at seq $((last - 2)):.*signed checkpoint" <<<"$out" &&
    h_ok "... caught by the signed checkpoint at seq $((last - 2))" || h_fail "head set back" "$out"
restore
h_psql -d syncd_state -c "ALTER TABLE public.syncd_audit DISABLE TRIGGER USER" \
    -c "DELETE FROM public.syncd_audit WHERE seq > $((last - 3))" \
    -c "ALTER TABLE public.syncd_audit ENABLE TRIGGER USER" >/dev/null
mv "$H_TMP/checkpoints" "$H_TMP/checkpoints.away" # the head alone must tell
out=$(verify_local) && rc=0 || rc=$?
h_assert_eq "the last 3 rows deleted, the head untouched: verify exits 1" 1 "$rc"
grep -q "BROKEN at seq $((last - 2)):.*rows after seq $((last - 3)) are gone (the head says $last)" <<<"$out" &&
    h_ok "... 'rows after seq $((last - 3)) are gone (the head says $last)'" || h_fail "head untouched" "$out"
mv "$H_TMP/checkpoints.away" "$H_TMP/checkpoints"
restore
out=$(verify_local) && rc=0 || rc=$?
h_assert_eq "restored: intact again" 0 "$rc"
h_summary
