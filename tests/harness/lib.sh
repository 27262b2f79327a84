# shellcheck shell=bash
# tests/harness/lib.sh -- throwaway PostgreSQL and slapd for integration tests.
#
# Usage (from a test run with `set -euo pipefail`):
#   . "$ROOT/tests/harness/lib.sh"
#   h_init; h_pg_start; h_slapd_start
#   h_assert_eq "wal_level" logical "$(h_psql -c 'SHOW wal_level')"
#   h_summary
#
# Everything lives in one temp dir ($H_TMP). h_init installs a trap that
# stops the servers this shell started and removes the dir (KEEP_TMP=1 keeps
# it), on normal exit, on failure and on INT/TERM/HUP.  Tests must not set
# their own EXIT/INT/TERM/HUP traps (that would drop the teardown): register
# clean-up with h_atexit / h_atexit_kill instead.
#
# Environment knobs: SYNCD_BUILD (the directory holding syncd, syncctl and the
# harness programs, default $H_ROOT/build; `make check-asan` points it at the
# ASan+UBSan build), FREEPORT (default $H_BUILD/freeport), PG_BINDIR,
# SLAPD (default /usr/sbin/slapd), KEEP_TMP=1, H_SLAPD_DEBUG (slapd -d level,
# default "none": errors only; "stats" logs every operation).

# Sourcing twice is harmless: keep counters and state of the first load.
if [[ -z ${_H_LIB_LOADED:-} ]]; then
_H_LIB_LOADED=1

H_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export H_ROOT
H_BUILD=${SYNCD_BUILD:-$H_ROOT/build}
export H_BUILD

H_PASS=0
H_FAILED=0
H_TMP=''            # never inherit another test's dir from the environment
_H_OWNER=''          # $BASHPID of the shell that ran h_init
_H_TORN_DOWN=0
_H_SUMMARY_DONE=0
_H_PG_STARTED=0
_H_SLAPD_PID=''
_H_EXTRA_PIDS=()
_H_ATEXIT=()

H_LDAP_BASE='dc=cantho,dc=gov,dc=vn'
H_LDAP_ROOTDN="cn=admin,$H_LDAP_BASE"
H_LDAP_ROOTPW='admin-secret'

# ---------------------------------------------------------------- results

h_ok() {
    H_PASS=$((H_PASS + 1))
    printf 'ok   - %s\n' "$1"
}

# Records a failure and returns 0, so one failed check does not stop the
# test under `set -e`; h_summary turns failures into the exit status.
h_fail() {
    H_FAILED=$((H_FAILED + 1))
    printf 'FAIL - %s: %s\n' "$1" "${2:-}"
}

h_assert_eq() {
    if [[ $2 == "$3" ]]; then
        h_ok "$1"
    else
        h_fail "$1" "expected '$2', got '$3'"
    fi
}

h_summary() {
    _H_SUMMARY_DONE=1
    printf '%d passed, %d failed\n' "$H_PASS" "$H_FAILED"
    [[ $H_FAILED -eq 0 ]]
}

# ---------------------------------------------------------------- helpers

_h_die() {
    printf 'harness: %s\n' "$*" >&2
    return 1
}

# True if PID runs.  A zombie counts as dead: kill -0 succeeds on one, and
# an exited server stays a zombie until its parent (or init) reaps it.
h_pid_alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    if [[ -r /proc/$1/stat ]]; then
        st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || st=''
        [[ $st != Z ]] || return 1
    fi
    return 0
}

# Stop PID: TERM, wait up to 10 s, then KILL; reap it if it is our child.
h_stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        h_pid_alive "$pid" || break
        sleep 0.1
    done
    if h_pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            h_pid_alive "$pid" || break
            sleep 0.1
        done
    fi
    wait "$pid" 2>/dev/null || true
}

# Kill PID (and wait for it) at teardown; for extra servers a test starts.
h_atexit_kill() {
    _H_EXTRA_PIDS+=("$1")
}

# Run the shell command string CMD at teardown, before the servers stop
# (last registered runs first); its failure is ignored.
h_atexit() {
    _H_ATEXIT+=("$1")
}

# Servers must be started by the shell that owns the teardown trap (not in
# a subshell or a pipeline, whose state would be lost with it).
_h_need_init() {
    [[ -n $H_TMP && -d $H_TMP ]] || { _h_die "call h_init first"; return 1; }
    [[ $_H_OWNER == "$BASHPID" ]] ||
        { _h_die "start servers in the shell that ran h_init"; return 1; }
}

# Print a free loopback TCP port.  Falls back to compiling freeport.c into the
# temp dir, so a test can run before `make`.
h_freeport() {
    local fp=${FREEPORT:-$H_BUILD/freeport}
    if [[ ! -x $fp ]]; then
        [[ -n $H_TMP && -d $H_TMP ]] || { _h_die "call h_init first"; return 1; }
        local cached=$H_TMP/freeport
        if [[ ! -x $cached ]]; then
            command -v cc >/dev/null 2>&1 ||
                _h_die "$fp not built and no cc to build it (run make)" || return 1
            cc -o "$cached" "$H_ROOT/tests/harness/freeport.c" ||
                _h_die "cannot compile freeport.c" || return 1
        fi
        fp=$cached
    fi
    "$fp"
}

# ---------------------------------------------------------------- lifecycle

h_init() {
    if [[ -n $_H_OWNER && $_H_OWNER == "$BASHPID" ]]; then
        _h_die "h_init called twice"
        return 1
    fi
    # A subshell inherits the parent's state; start clean.
    _H_TORN_DOWN=0 _H_SUMMARY_DONE=0 _H_PG_STARTED=0 _H_SLAPD_PID=''
    _H_EXTRA_PIDS=() _H_ATEXIT=()
    H_TMP=$(mktemp -d /tmp/syncd-test.XXXXXX)
    export H_TMP
    _H_OWNER=$BASHPID
    # As root the servers run as postgres, which must reach $H_TMP/pg.
    if [[ $EUID -eq 0 ]]; then
        chmod 0711 "$H_TMP"
    fi
    trap '_h_teardown' EXIT
    trap '_h_on_signal INT 130' INT
    trap '_h_on_signal TERM 143' TERM
    trap '_h_on_signal HUP 129' HUP
}

_h_on_signal() {
    trap - "$1"
    printf 'harness: caught SIG%s, tearing down\n' "$1" >&2
    _h_teardown "$2"
    exit "$2"
}

# Runs from the EXIT trap (status in $?) or a signal trap (status as $1).
_h_teardown() {
    local rc=${1:-$?}
    # Only the shell that ran h_init owns the servers and the dir.
    [[ $_H_OWNER == "$BASHPID" ]] || return 0
    [[ $_H_TORN_DOWN -eq 0 ]] || return 0
    _H_TORN_DOWN=1
    set +e
    if [[ $rc -ne 0 && $_H_SUMMARY_DONE -eq 0 ]]; then
        printf 'harness: test aborted (exit %d) after %d passed, %d failed\n' \
            "$rc" "$H_PASS" "$H_FAILED" >&2
    fi
    # Clients first (they may hold connections), then the servers.
    local i pid
    for ((i = ${#_H_ATEXIT[@]} - 1; i >= 0; i--)); do
        (eval "${_H_ATEXIT[i]}") || true
    done
    _H_ATEXIT=()
    for pid in "${_H_EXTRA_PIDS[@]}"; do
        h_stop_pid "$pid"
    done
    _H_EXTRA_PIDS=()
    h_slapd_stop
    h_pg_stop
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        printf 'harness: kept %s\n' "$H_TMP" >&2
    elif [[ -n $H_TMP && -d $H_TMP ]]; then
        rm -rf -- "$H_TMP"
    fi
    return 0
}

# ---------------------------------------------------------------- PostgreSQL

_h_pg_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then
        printf '%s\n' "$PG_BINDIR"
    elif [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
        printf '%s\n' /usr/lib/postgresql/15/bin
    elif command -v pg_config >/dev/null 2>&1; then
        pg_config --bindir
    else
        _h_die "no PostgreSQL binaries (set PG_BINDIR)"
    fi
}

# PostgreSQL refuses to run as root: run its binaries as postgres then, from
# a directory postgres may enter.
_h_pg_run() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$H_PG_DIR" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# pg_ctl's own chatter goes to a file; on failure the caller shows the logs.
_h_pg_ctl_start() {
    _h_pg_run "$H_PG_BINDIR/pg_ctl" -D "$H_PG_DATA" -l "$H_PG_LOG" \
        -w -t 60 start >"$H_PG_DIR/pg_ctl.log" 2>&1
}

_h_pg_show_logs() {
    cat "$H_PG_DIR/pg_ctl.log" >&2 2>/dev/null || true
    tail -n 30 "$H_PG_LOG" >&2 2>/dev/null || true
}

h_pg_start() {
    _h_need_init || return 1
    [[ $_H_PG_STARTED -eq 0 ]] || { _h_die "PostgreSQL already started"; return 1; }
    H_PG_BINDIR=$(_h_pg_bindir) || return 1
    H_PG_DIR=$H_TMP/pg
    H_PG_DATA=$H_PG_DIR/data
    H_PG_LOG=$H_PG_DIR/postgresql.log
    local sockdir=$H_PG_DIR/run locale=C locales
    mkdir -p "$H_PG_DIR" "$sockdir"
    chmod 0700 "$H_PG_DIR"
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || { _h_die "no postgres user"; return 1; }
        chown -R postgres:postgres "$H_PG_DIR"
    fi
    # UTF-8 data (Vietnamese names) wants a UTF-8 ctype when one exists.
    locales=$(locale -a 2>/dev/null || true)
    if grep -qixE 'c\.utf-?8' <<<"$locales"; then
        locale=C.UTF-8
    fi
    _h_pg_run "$H_PG_BINDIR/initdb" -D "$H_PG_DATA" -U postgres -E UTF8 \
        --locale="$locale" -A trust >"$H_PG_DIR/initdb.log" 2>&1 || {
        cat "$H_PG_DIR/initdb.log" >&2
        _h_die "initdb failed"
        return 1
    }
    _h_pg_run tee -a "$H_PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- syncd test harness ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
wal_level = logical
max_wal_senders = 20
max_replication_slots = 20
max_connections = 200
shared_buffers = 256MB
EOF
    # "all" does not cover replication connections: list them explicitly.
    _h_pg_run tee "$H_PG_DATA/pg_hba.conf" >/dev/null <<EOF
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  trust
host    replication  all   127.0.0.1/32  trust
EOF
    # The port can be taken between freeport and bind: retry with another.
    local attempt port
    for attempt in 1 2 3; do
        port=$(h_freeport) || return 1
        printf 'port = %s\n' "$port" | _h_pg_run tee -a "$H_PG_DATA/postgresql.conf" >/dev/null
        # Only this attempt's log decides whether to retry.  (Truncate, never
        # create: as root a new file would be root's and postgres could not
        # write it.)
        if [[ -f $H_PG_LOG ]]; then : >"$H_PG_LOG"; fi
        if _h_pg_ctl_start; then
            _H_PG_STARTED=1
            break
        fi
        if [[ $attempt -lt 3 ]] && grep -q 'could not bind' "$H_PG_LOG" 2>/dev/null; then
            continue
        fi
        _h_pg_show_logs
        _h_die "PostgreSQL did not start"
        return 1
    done
    H_PG_PORT=$port
    H_PG_SOCKDIR=$sockdir
    PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
    export PGHOST PGPORT PGUSER H_PG_PORT H_PG_BINDIR H_PG_DATA H_PG_LOG H_PG_SOCKDIR
}

# Idempotent: does nothing when no server of ours is running.
h_pg_stop() {
    [[ $_H_PG_STARTED -eq 1 ]] || return 0
    if [[ -f $H_PG_DATA/postmaster.pid ]]; then
        _h_pg_run "$H_PG_BINDIR/pg_ctl" -D "$H_PG_DATA" -m fast -w -t 60 \
            stop >/dev/null 2>&1 ||
            _h_pg_run "$H_PG_BINDIR/pg_ctl" -D "$H_PG_DATA" -m immediate -w \
                stop >/dev/null 2>&1 || true
    fi
    _H_PG_STARTED=0
    return 0
}

# Same data dir and port (the port is in postgresql.conf).
h_pg_restart() {
    [[ -n ${H_PG_DATA:-} && -d $H_PG_DATA ]] || { _h_die "h_pg_start first"; return 1; }
    h_pg_stop
    if ! _h_pg_ctl_start; then
        _h_pg_show_logs
        _h_die "PostgreSQL did not restart"
        return 1
    fi
    _H_PG_STARTED=1
}

h_psql() {
    "${H_PG_BINDIR:-$(_h_pg_bindir)}/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# ---------------------------------------------------------------- slapd
#
# h_slapd_start [--dit]       slapd with syncd.schema and the shipped ACLs
#                             (policies/ldap/syncd-acl.conf) on a free port,
#                             plus the base entry.  --dit also loads
#                             policies/ldap/example-dit.ldif (people, roles,
#                             services, the 103 units) and gives the service
#                             DN a fresh password: H_LDAP_SVC_PW, also in
#                             $H_LDAP_SVC_PWFILE (mode 0600, no newline).
# h_slapd_restart             same port, data and config
# h_slapd_stop                idempotent
# h_ldap_user UID PASSWORD [DISPLAY-NAME]    uid=UID,ou=people (needs --dit)
# h_ldap_users NAME UID...    each with password pw-UID-secret, named "NAME UID"
# h_ldap_user_delete UID      the entry only; group members stay (no refint)
# h_ldap_group_add GROUP UID  member of cn=GROUP,ou=roles (needs --dit)
# The h_ldap* tools bind as the rootdn, which the ACLs do not restrict; the
# user helpers return the LDAP result code of the failed operation.
#
# Without --dit the server holds only the base entry, as before (tests that
# build their own ou=units, ou=people rely on that).  The ACL file names
# dc=cantho,dc=gov,dc=vn, so H_LDAP_BASE must stay that.

H_LDAP_SVC_DN="cn=syncd,ou=services,$H_LDAP_BASE"
H_LDAP_SVC_PW=''
H_LDAP_SVC_PWFILE=''

# ldap tools without ~/.ldaprc or /etc/ldap/ldap.conf getting in the way.
h_ldapsearch() {
    LDAPNOINIT=1 ldapsearch -x -LLL -o ldif-wrap=no -H "$H_LDAP_URI" \
        -D "$H_LDAP_ROOTDN" -w "$H_LDAP_ROOTPW" "$@"
}

# shellcheck disable=SC2120 # arguments are optional (LDIF on stdin by default)
h_ldapadd() {
    LDAPNOINIT=1 ldapadd -x -H "$H_LDAP_URI" \
        -D "$H_LDAP_ROOTDN" -w "$H_LDAP_ROOTPW" "$@"
}

# shellcheck disable=SC2120 # arguments are optional (LDIF on stdin by default)
h_ldapmodify() {
    LDAPNOINIT=1 ldapmodify -x -H "$H_LDAP_URI" \
        -D "$H_LDAP_ROOTDN" -w "$H_LDAP_ROOTPW" "$@"
}

# Wait until the slapd (PID) at URI answers a root DSE search; fail early
# if it dies.
_h_slapd_wait() {
    local pid=$1 uri=$2 i
    for ((i = 0; i < 300; i++)); do
        h_pid_alive "$pid" || return 1
        if LDAPNOINIT=1 ldapsearch -x -H "$uri" -b '' -s base -LLL \
            '(objectClass=*)' namingContexts >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Print the userPassword value for cleartext $1: a salted hash when
# slappasswd is there, else the cleartext (slapd compares either).
_h_ldap_hash() {
    local sp
    for sp in slappasswd /usr/sbin/slappasswd; do
        if command -v "$sp" >/dev/null 2>&1; then
            "$sp" -s "$1"
            return
        fi
    done
    printf '%s\n' "$1"
}

# Start slapd on the config in $H_LDAP_DIR for URI; sets _H_SLAPD_PID.
# -d keeps slapd in the foreground as our child, so its errors land in
# slapd.log instead of an absent syslog.
_h_slapd_launch() {
    local uri=$1 pid
    "${SLAPD:-/usr/sbin/slapd}" -d "${H_SLAPD_DEBUG:-none}" -h "$uri" \
        -f "$H_LDAP_DIR/slapd.conf" >"$H_LDAP_DIR/slapd.log" 2>&1 </dev/null &
    pid=$!
    if _h_slapd_wait "$pid" "$uri"; then
        _H_SLAPD_PID=$pid
        return 0
    fi
    h_stop_pid "$pid"
    return 1
}

h_slapd_start() {
    local dit=0
    case ${1:-} in
    '') ;;
    --dit) dit=1 ;;
    *) _h_die "h_slapd_start: unknown argument '$1'"; return 1 ;;
    esac
    _h_need_init || return 1
    [[ -z $_H_SLAPD_PID ]] || { _h_die "slapd already started"; return 1; }
    local dir=$H_TMP/ldap
    local conf=$dir/slapd.conf rootpw
    mkdir -p "$dir/data"
    # Keep the cleartext password out of the config when we can hash it.
    rootpw=$(_h_ldap_hash "$H_LDAP_ROOTPW")
    cat >"$conf" <<EOF
# syncd test harness -- generated, throwaway
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include "$H_ROOT/policies/ldap/syncd.schema"

pidfile  "$dir/slapd.pid"
argsfile "$dir/slapd.args"
modulepath /usr/lib/ldap
moduleload back_mdb

database mdb
maxsize 1073741824
suffix "$H_LDAP_BASE"
rootdn "$H_LDAP_ROOTDN"
rootpw $rootpw
directory "$dir/data"
index objectClass eq
index uid,cn eq
index entryUUID eq
index syncdGrantee,syncdGranteeUUID,syncdGrantorUUID,syncdRole,syncdUnit,syncdParentGrant eq
index syncdUnitCode,syncdGrantId,member eq
# The ACLs production uses, unchanged.
include "$H_ROOT/policies/ldap/syncd-acl.conf"
EOF
    H_LDAP_DIR=$dir
    local attempt port uri
    for attempt in 1 2 3; do
        port=$(h_freeport) || return 1
        uri="ldap://127.0.0.1:$port/"
        _h_slapd_launch "$uri" && break
        if [[ $attempt -lt 3 ]] && grep -q 'bind.*failed' "$dir/slapd.log" 2>/dev/null; then
            continue
        fi
        tail -n 30 "$dir/slapd.log" >&2 2>/dev/null || true
        _h_die "slapd did not start"
        return 1
    done
    H_LDAP_PORT=$port
    H_LDAP_URI=$uri
    H_LDAP_SVC_PW='' H_LDAP_SVC_PWFILE=''
    export H_LDAP_URI H_LDAP_BASE H_LDAP_ROOTDN H_LDAP_ROOTPW H_LDAP_PORT H_LDAP_DIR
    export H_LDAP_SVC_DN H_LDAP_SVC_PW H_LDAP_SVC_PWFILE
    # The suffix entry, so tests can add ou=people, ou=units right away.
    h_ldapadd >/dev/null <<EOF || { _h_die "cannot add $H_LDAP_BASE"; return 1; }
dn: $H_LDAP_BASE
objectClass: dcObject
objectClass: organization
dc: cantho
o: Can Tho
EOF
    [[ $dit -eq 1 ]] || return 0
    h_ldapadd -f "$H_ROOT/policies/ldap/example-dit.ldif" >/dev/null ||
        { _h_die "cannot load policies/ldap/example-dit.ldif"; return 1; }
    # 18 random bytes: 24 characters, URL- and config-safe.
    local pw pwfile=$dir/svc.pw
    pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    (umask 077 && printf '%s' "$pw" >"$pwfile")
    chmod 0600 "$pwfile"
    LDAPNOINIT=1 ldappasswd -x -H "$H_LDAP_URI" -D "$H_LDAP_ROOTDN" \
        -w "$H_LDAP_ROOTPW" -T "$pwfile" "$H_LDAP_SVC_DN" >/dev/null ||
        { _h_die "cannot set the password of $H_LDAP_SVC_DN"; return 1; }
    H_LDAP_SVC_PW=$pw
    H_LDAP_SVC_PWFILE=$pwfile
}

# Idempotent: does nothing when no slapd of ours is running.
h_slapd_stop() {
    [[ -n $_H_SLAPD_PID ]] || return 0
    h_stop_pid "$_H_SLAPD_PID"
    _H_SLAPD_PID=''
    return 0
}

# Same port, data dir and config (also after h_slapd_stop).
h_slapd_restart() {
    _h_need_init || return 1
    [[ -n ${H_LDAP_DIR:-} && -f $H_LDAP_DIR/slapd.conf ]] ||
        { _h_die "h_slapd_start first"; return 1; }
    h_slapd_stop
    if ! _h_slapd_launch "$H_LDAP_URI"; then
        tail -n 30 "$H_LDAP_DIR/slapd.log" >&2 2>/dev/null || true
        _h_die "slapd did not restart on $H_LDAP_URI"
        return 1
    fi
}

# Only names that need no DN escaping, so a typo cannot build another DN.
_h_ldap_name_ok() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
        { _h_die "$2: '$1' is not a plain name ([A-Za-z0-9._-])"; return 1; }
}

# uid=UID,ou=people,BASE as inetOrgPerson: cn = DISPLAY-NAME (default UID),
# sn = its first word (the family name comes first in Vietnamese).
h_ldap_user() {
    local uid=${1:-} pw=${2:-} name=${3:-${1:-}} hash rc=0
    _h_ldap_name_ok "$uid" h_ldap_user || return 1
    # An empty password would make the user's bind an anonymous one.
    [[ -n $pw ]] || { _h_die "h_ldap_user: empty password"; return 1; }
    hash=$(_h_ldap_hash "$pw")
    h_ldapadd >/dev/null <<EOF || rc=$?
dn: uid=$uid,ou=people,$H_LDAP_BASE
objectClass: inetOrgPerson
uid: $uid
cn:: $(printf '%s' "$name" | base64 -w0)
sn:: $(printf '%s' "${name%% *}" | base64 -w0)
userPassword:: $(printf '%s' "$hash" | base64 -w0)
EOF
    [[ $rc -eq 0 ]] || _h_die "h_ldap_user: cannot add uid=$uid (ldap rc $rc)"
    return "$rc"
}

# h_ldap_users NAME UID...: h_ldap_user for each UID with the password
# pw-UID-secret (the one h_api sends) and the display name "NAME UID"
# (just UID when NAME is empty).
h_ldap_users() {
    local name=${1:-} u
    shift
    for u in "$@"; do
        h_ldap_user "$u" "pw-$u-secret" "${name:+$name }$u" || return 1
    done
}

h_ldap_user_delete() {
    local rc=0
    _h_ldap_name_ok "${1:-}" h_ldap_user_delete || return 1
    LDAPNOINIT=1 ldapdelete -x -H "$H_LDAP_URI" -D "$H_LDAP_ROOTDN" \
        -w "$H_LDAP_ROOTPW" "uid=$1,ou=people,$H_LDAP_BASE" || rc=$?
    [[ $rc -eq 0 ]] || _h_die "h_ldap_user_delete: cannot delete uid=$1 (ldap rc $rc)"
    return "$rc"
}

h_ldap_group_add() {
    local rc=0
    _h_ldap_name_ok "${1:-}" h_ldap_group_add || return 1
    _h_ldap_name_ok "${2:-}" h_ldap_group_add || return 1
    h_ldapmodify >/dev/null <<EOF || rc=$?
dn: cn=$1,ou=roles,$H_LDAP_BASE
changetype: modify
add: member
member: uid=$2,ou=people,$H_LDAP_BASE
EOF
    [[ $rc -eq 0 ]] || _h_die "h_ldap_group_add: cannot add uid=$2 to cn=$1 (ldap rc $rc)"
    return "$rc"
}

fi # _H_LIB_LOADED
