# shellcheck shell=bash
# tests/harness/city.sh — the sample city on a throwaway PostgreSQL: source
# databases land and civil (owned by the replication role syncd_repl),
# the tier and the state database (owned by syncd), and a syncd.conf.
# Sources lib.sh; h_city_start SIZE (or h_init, h_pg_start, h_city_setup
# SIZE) is the usual prologue, h_city_ldap TTL adds the directory.

# shellcheck source=tests/harness/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

H_SYNCD=${SYNCD:-$H_BUILD/syncd}

# The prologue of a test on the city: the temp dir and its teardown, a
# PostgreSQL, the city of SIZE parcels and $H_CONF.  Run it in the test's
# own shell (not in $(...) or a pipeline): the teardown trap lives there.
h_city_start() {
    h_init || return 1
    h_pg_start || return 1
    h_city_setup "$1"
}

# The directory for the API: slapd with the example DIT (h_slapd_start
# --dit) and its [ldap] section in $H_CONF, cache_ttl TTL (default 30).
h_city_ldap() {
    h_slapd_start --dit || return 1
    h_ldap_conf "$H_CONF" "${1:-30}"
}

# h_syncd_set KEY=VALUE...: the lines "KEY = VALUE", in order, at the top of
# the [syncd] section of $H_CONF.
h_syncd_set() {
    local kv lines=''
    for kv in "$@"; do
        [[ $kv == ?*=* ]] || { _h_die "h_syncd_set: '$kv' is not KEY=VALUE"; return 1; }
        lines+="${kv%%=*} = ${kv#*=}"$'\n'
    done
    _H_SET=$lines awk '{ print } $0 == "[syncd]" && !done { printf "%s", ENVIRON["_H_SET"]; done = 1 }' \
        "$H_CONF" >"$H_CONF.new" && mv "$H_CONF.new" "$H_CONF"
}

# h_syncd_once [CONF]: the first syncd --once (default on $H_CONF), the
# snapshot the test builds on; on failure its stderr is shown and the test
# stops (exit 1).
h_syncd_once() {
    "$H_SYNCD" -c "${1:-$H_CONF}" --once >/dev/null 2>"$H_TMP/once.err" || {
        cat "$H_TMP/once.err"
        exit 1
    }
}

# Creates roles and databases, generates SIZE parcels (and the rest), writes
# $H_TMP/syncd.conf.  Exports H_CONF, H_LAND, H_CIVIL, H_TIER, H_STATE (conninfos).
h_city_setup() {
    local size=$1 db t
    h_psql -d postgres <<'SQL'
CREATE ROLE syncd_repl LOGIN REPLICATION;
CREATE ROLE syncd LOGIN;
CREATE DATABASE land;
CREATE DATABASE civil;
GRANT CREATE ON DATABASE land TO syncd_repl;
GRANT CREATE ON DATABASE civil TO syncd_repl;
CREATE DATABASE tier OWNER syncd;
CREATE DATABASE syncd_state OWNER syncd;
SQL
    H_LAND="host=127.0.0.1 port=$PGPORT dbname=land user=syncd_repl"
    H_CIVIL="host=127.0.0.1 port=$PGPORT dbname=civil user=syncd_repl"
    H_TIER="host=127.0.0.1 port=$PGPORT dbname=tier user=syncd"
    H_STATE="host=127.0.0.1 port=$PGPORT dbname=syncd_state user=syncd"
    export H_LAND H_CIVIL H_TIER H_STATE
    "$H_ROOT/tests/harness/gencity.sh" "host=127.0.0.1 port=$PGPORT dbname=land user=postgres" \
        "host=127.0.0.1 port=$PGPORT dbname=civil user=postgres" "$size" >"$H_TMP/gencity.log"
    # the city's DBA hands the tables to syncd's replication role, so syncd
    # may create its publication itself
    for db in land civil; do
        for t in $(h_psql -d "$db" -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"); do
            h_psql -d "$db" -c "ALTER TABLE public.$t OWNER TO syncd_repl"
        done
    done
    H_CONF=$H_TMP/syncd.conf
    export H_CONF
    h_city_conf "$H_CONF"
}

# Writes a syncd.conf for this cluster; extra lines for [syncd] may follow.
h_city_conf() {
    local out=$1 policies=${2:-$H_ROOT/policies}
    # the API on a port of its own: tests and a real syncd never collide
    [[ -n ${H_API_PORT:-} ]] || { H_API_PORT=$(h_freeport); export H_API_PORT; }
    cat >"$out" <<EOF2
[syncd]
policies_dir = $policies
log_level = info
listen = 127.0.0.1:$H_API_PORT

[state]
conninfo = $H_STATE

[source land]
conninfo = $H_LAND

[source civil]
conninfo = $H_CIVIL

[tier]
conninfo = $H_TIER
schema = u{unit}
EOF2
}

# h_policy_thua_dat DIR: a policies dir whose routing.json routes only
# land's thua_dat (the real units, mapping and split rules), for the
# benchmarks that measure one table.
h_policy_thua_dat() {
    mkdir -p "$1"
    cat >"$1/routing.json" <<JSON
{ "units": { "list": "$H_ROOT/policies/units/cantho_new_units.csv",
             "mapping": "$H_ROOT/policies/units/cantho_old_to_new_mapping.csv",
             "cutover": "2025-07-01",
             "split_overrides": "$H_ROOT/policies/units/split_overrides.csv" },
  "split_rules": $(sed -n '/"split_rules"/,/^  },/p' "$H_ROOT/policies/routing.json" | sed '1s/.*"split_rules": //; $s/},$/}/'),
  "tables": [ { "source": "land", "table": "public.thua_dat", "unit_column": "ma_dvhc_xa",
                "era": "old", "split": { "column": "so_to" }, "columns": ["*"] } ] }
JSON
}

# Waits until each source's slot has confirmed the source's current WAL
# position, then until no request (resync, table copy) is pending; gives up
# after a minute each (the comparison that follows then says what differs).
h_city_caught_up() {
    local target src i
    for src in land civil; do
        target=$(h_psql -d "$src" -c "SELECT pg_current_wal_lsn()")
        for ((i = 0; i < 600; i++)); do
            [[ $(h_psql -d "$src" -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'syncd_$src'") == t ]] && break
            sleep 0.1
        done
    done
    for ((i = 0; i < 600; i++)); do
        [[ $(h_psql -d syncd_state -c "SELECT count(*) FROM syncd_request WHERE done_at IS NULL") == 0 ]] && break
        sleep 0.1
    done
}

# Appends [ldap] for the harness's slapd (h_slapd_start --dit) to a
# syncd.conf: the service DN and its password file; cache_ttl as given.
h_ldap_conf() {
    local out=$1 ttl=${2:-30}
    cat >>"$out" <<EOF2

[ldap]
uri = $H_LDAP_URI
base = $H_LDAP_BASE
bind_dn = $H_LDAP_SVC_DN
bind_password_file = $H_LDAP_SVC_PWFILE
cache_ttl = $ttl
EOF2
}

# h_city_once LABEL: syncd --once catches up (its output in $H_TMP/out and
# $H_TMP/err), then every unit is compared with the oracle; a failed run is
# one failed check with the last lines of its errors.
h_city_once() {
    local rc
    "$H_SYNCD" -c "$H_CONF" --once >"$H_TMP/out" 2>"$H_TMP/err" && rc=0 || rc=$?
    if [[ $rc -ne 0 ]]; then
        h_fail "$1: syncd --once" "exit $rc: $(tail -3 "$H_TMP/err")"
        return
    fi
    h_city_compare "$1"
}

# Compares every unit's copy with the oracle over the sources; one check
# per source, with the differing lines shown on failure.
h_city_compare() {
    local label=$1 src exp act
    for src in land civil; do
        exp=$("$H_ROOT/tests/harness/oracle.sh" "expect-$src" "host=127.0.0.1 port=$PGPORT dbname=$src user=postgres")
        act=$("$H_ROOT/tests/harness/oracle.sh" actual-tier "host=127.0.0.1 port=$PGPORT dbname=tier user=postgres" "$src")
        if [[ -n $exp && $exp == "$act" ]]; then
            h_ok "$label: every unit's $src copy equals the oracle ($(wc -l <<<"$exp") table/unit pairs)"
        else
            h_fail "$label: $src copies differ from the oracle" \
                "$(diff <(echo "$exp") <(echo "$act") | head -20)"
        fi
        exp=$("$H_ROOT/tests/harness/oracle.sh" "expect-quarantine-$src" "host=127.0.0.1 port=$PGPORT dbname=$src user=postgres")
        act=$(h_psql -d syncd_state -c "SELECT tbl || E'\t' || key || E'\t' || reason FROM syncd_quarantine WHERE source = '$src'" | LC_ALL=C sort)
        if [[ -n $exp && $exp == "$act" ]]; then
            h_ok "$label: $src quarantine holds exactly the unroutable rows ($(wc -l <<<"$exp"))"
        else
            h_fail "$label: $src quarantine differs from the oracle" \
                "$(diff <(echo "$exp") <(echo "$act") | head -20)"
        fi
    done
}

# An Ed25519 signing key for documents and audit checkpoints at
# $H_TMP/sign.pem (mode 0600, as syncd demands); prints its path.
h_signing_key() {
    openssl genpkey -algorithm ed25519 -out "$H_TMP/sign.pem" 2>/dev/null
    chmod 600 "$H_TMP/sign.pem"
    echo "$H_TMP/sign.pem"
}

# Starts the continuous daemon on $H_CONF, its output appended to LOG
# (default $H_TMP/daemon.log); sets H_SYNCD_PID and waits until /healthz
# answers.  A daemon that dies or never answers is a failed check and 1.
h_syncd_start() {
    local log=${1:-$H_TMP/daemon.log} i
    "$H_SYNCD" -c "$H_CONF" >>"$log" 2>&1 &
    H_SYNCD_PID=$!
    h_atexit_kill "$H_SYNCD_PID"
    for ((i = 0; i < 300; i++)); do
        curl -sf "http://127.0.0.1:$H_API_PORT/healthz" >/dev/null 2>&1 && return 0
        h_pid_alive "$H_SYNCD_PID" || break
        sleep 0.1
    done
    h_fail "syncd starts" "$(tail -5 "$log")"
    return 1
}

# h_api USER METHOD PATH [JSON] [ACCEPT]: one API request as USER (password
# pw-USER-secret, "-" for none) with X-Request-Id $RID (or a random one);
# the body lands in $H_TMP/body, the status is printed.
h_api() {
    local args=(-s -o "$H_TMP/body" -w '%{http_code}' -X "$2" -H "X-Request-Id: ${RID:-t$RANDOM$RANDOM}")
    [[ $1 == - ]] || args+=(-u "$1:pw-$1-secret")
    [[ -z ${4:-} ]] || args+=(-H 'Content-Type: application/json' --data-binary "$4")
    [[ -z ${5:-} ]] || args+=(-H "Accept: $5")
    curl "${args[@]}" "http://127.0.0.1:$H_API_PORT$3"
}

# h_city_documents SIZE TTL [KEY=VALUE...]: the prologue of a test of the
# documents API — the city of SIZE parcels (h_city_start), the directory
# (cache_ttl TTL), a signing key and the [syncd] lines given in $H_CONF,
# and the first snapshot.  Run it in the test's own shell, as h_city_start.
h_city_documents() {
    local size=$1 ttl=$2
    shift 2
    h_city_start "$size" || return 1
    h_city_ldap "$ttl" || return 1
    h_syncd_set "signing_key_file=$(h_signing_key)" "$@"
    h_syncd_once
}

# The demo's people in the directory (h_city_ldap first), the same in
# `make demo` and the browser tests: the official an.nguyen (Cái Khế's civil
# registrar once h_city_persona_grants ran), the chair chau.le, the city
# admin binh.tran (group city_admin), the auditor kiem.do (city_auditor) and
# lan.pham, who holds nothing until a chair delegates.  Exports
# SYNCD_<PERSONA>_UID / _PASSWORD, SYNCD_UNIT and SYNCD_UNIT_NAME.
h_city_personas() {
    local spec persona uid pw name
    for spec in "official|an.nguyen|demo-pw-registrar|Nguyễn Văn An" "chair|chau.le|demo-pw-chair|Lê Minh Châu" \
        "admin|binh.tran|demo-pw-admin|Trần Thị Bình" "auditor|kiem.do|demo-pw-auditor|Đỗ Thị Kiểm" \
        "registrar|lan.pham|demo-pw-lan|Phạm Thị Lan"; do
        IFS='|' read -r persona uid pw name <<<"$spec"
        h_ldap_user "$uid" "$pw" "$name" >/dev/null || return 1
        export "SYNCD_${persona^^}_UID=$uid" "SYNCD_${persona^^}_PASSWORD=$pw"
    done
    h_ldap_group_add city_admin binh.tran >/dev/null || return 1
    h_ldap_group_add city_auditor kiem.do >/dev/null || return 1
    export SYNCD_UNIT=31120 SYNCD_UNIT_NAME='Phường Cái Khế'
}

# With the API up (h_syncd_start): the city admin names chau.le chair of
# Cái Khế (may delegate), who delegates an.nguyen as civil registrar.  A
# grant the API refuses is a failed check and 1.
h_city_persona_grants() {
    local spec status who body uid pw
    for spec in "admin|{\"grantee\":\"chau.le\",\"role\":\"unit_chair\",\"unit\":\"31120\",\"may_delegate\":1}" \
        "chair|{\"grantee\":\"an.nguyen\",\"role\":\"civil_registrar\",\"unit\":\"31120\"}"; do
        who=${spec%%|*} body=${spec#*|}
        uid=SYNCD_${who^^}_UID pw=SYNCD_${who^^}_PASSWORD
        status=$(curl -s -o "$H_TMP/grant.out" -w '%{http_code}' -u "${!uid}:${!pw}" -H 'Content-Type: application/json' \
            --data-binary "$body" "http://127.0.0.1:$H_API_PORT/v1/grants")
        [[ $status == 201 || $status == 200 ]] || { h_fail "persona grant by ${!uid}" "$status $(cat "$H_TMP/grant.out")"; return 1; }
    done
}

# h_parcel_txn I CODE MOVE [ANY]: the SQL of one workload transaction on
# land's thua_dat (the crash and failover tests): a marker parcel I (id
# 7000000 + I) inserted into unit CODE, one parcel moved to MOVE ('' :
# unroutable, into the quarantine), one updated in place (phien_ban + 1,
# which the order validator follows) and one deleted, each picked by I among
# the generated parcels — or, with ANY (a long run that would use them up),
# among all, the markers too, so the table keeps its size.
h_parcel_txn() {
    local pick="id < 7000000"
    [[ -z ${4:-} ]] || pick="true"
    cat <<SQL
BEGIN;
INSERT INTO thua_dat (id, ma_dvhc_xa, so_to, so_thua, dien_tich, trang_thai, phien_ban) VALUES (7000000 + $1, '$2', 5, $1, 10, 1, 1);
UPDATE thua_dat SET ma_dvhc_xa = NULLIF('$3', '') WHERE id = (SELECT id FROM thua_dat WHERE $pick ORDER BY md5(id::text || '$1') LIMIT 1);
UPDATE thua_dat SET phien_ban = phien_ban + 1 WHERE id = (SELECT id FROM thua_dat WHERE $pick ORDER BY md5(id::text || 'u$1') LIMIT 1);
DELETE FROM thua_dat WHERE id = (SELECT id FROM thua_dat WHERE $pick ORDER BY md5(id::text || 'd$1') LIMIT 1);
COMMIT;
SQL
}
