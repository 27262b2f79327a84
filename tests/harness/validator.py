#!/usr/bin/env python3
"""validator.py -- an order validator beside a streaming test, in the manner
of CockroachDB's changefeed validators.  While the load runs it samples, about
every 200 ms, every unit's copy of one table (schemas u<code>) in each tier
database given, and the state DB's quarantine, and checks two rules:

(a) order: per unit and key, the version column (one the workload only ever
    increments, e.g. thua_dat.phien_ban) never goes back: once a unit showed
    version v of a key it never shows an older one, even after the key left
    the unit and came back.  The same holds per key in the quarantine.  Each
    place is compared only with itself: a unit whose database is down keeps an
    old version while another unit already holds the new one, which is what
    syncd promises (each destination applies the source's transactions in
    order, at its own pace).

(b) one place: syncd commits the rows of all units that share a tier
    connection (the same expanded [tier] conninfo: one database for every
    unit, the default) in ONE transaction with their checkpoints, so a row
    that moves between two such units is deleted from one and inserted into
    the other atomically.  A key seen in two units of such a database in one
    sample (one SQL statement, one snapshot) is a violation at once (a tier
    given with ":group").  Units in different transactions -- a tier whose
    units each have their own conninfo, units in different databases, and a
    unit and the quarantine (the quarantine lives in the state DB and commits
    after the units) -- are not atomic: a moving row may sit in both places,
    or in neither, between the two commits.  Such an overlap is counted as
    transient while the load runs and is a violation only if it is still
    there in the final sample, which is taken when the validator is stopped
    (SIGTERM) after the daemon has caught up.

usage: validator.py --out FILE --stats FILE --state CONNINFO
                    --tier CONNINFO[:group] [--tier ...]
                    [--table thua_dat] [--key id] [--version phien_ban]
                    [--qtable public.thua_dat] [--interval 0.2]
Violations go to --out, one line each; on exit --stats holds
"samples=N transient=N violations=N unavailable=N".  A database that does
not answer (a fault test stopped it) is skipped for that sample and counted
as unavailable; its psql is restarted at the next sample.
"""
import argparse
import signal
import subprocess
import sys
import time

END = "__VALIDATOR_END__"


class Psql:
    """One long-lived psql session; restarted after the server went away."""

    def __init__(self, conninfo):
        self.conninfo = conninfo
        self.p = None

    def _open(self):
        self.p = subprocess.Popen(
            ["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=0", self.conninfo],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1)

    def run(self, sql):
        """Rows of SQL (complete statements, ended by ';' or \\gexec) as
        lists of fields, or None if the session broke."""
        if self.p is None or self.p.poll() is not None:
            self._open()
        try:
            # a query, not \echo: it comes after the rows of the one before
            self.p.stdin.write(sql + "\nSELECT '" + END + "';\n")
            self.p.stdin.flush()
            rows = []
            for line in self.p.stdout:
                line = line.rstrip("\n")
                if line == END:
                    return rows
                rows.append(line.split("\t"))
        except (BrokenPipeError, OSError):
            pass
        self.close()
        return None

    def close(self):
        if self.p is not None:
            try:
                self.p.kill()
                self.p.wait(timeout=5)
            except Exception:
                pass
        self.p = None


def unit_sql(table, key, version):
    # one statement over every unit schema: one snapshot for all of them
    return (
        "SELECT coalesce(string_agg(format('SELECT %L, (" + key + ")::text, (" + version + ")::bigint "
        "FROM %I." + table + "', n.nspname, n.nspname), ' UNION ALL '), "
        "'SELECT NULL, NULL, NULL WHERE false') "
        "FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid "
        "WHERE n.nspname ~ '^u[0-9]{5}$' AND c.relname = '" + table + "' AND c.relkind = 'r' \\gexec")


class Validator:
    def __init__(self, a):
        self.a = a
        self.tiers = []
        for spec in a.tier:
            group = spec.endswith(":group")
            self.tiers.append((Psql(spec[:-6] if group else spec), group))
        self.state = Psql(a.state)
        self.last = {}  # (place, key) -> highest version seen there
        self.samples = self.transient = self.violations = self.unavailable = 0
        self.out = open(a.out, "a", buffering=1)

    def violation(self, msg):
        self.violations += 1
        self.out.write("sample %d: %s\n" % (self.samples, msg))

    def order(self, place, key, version):
        prev = self.last.get((place, key))
        if prev is not None and version < prev:
            self.violation("%s key %s went back from version %d to %d" % (place, key, prev, version))
        if prev is None or version > prev:
            self.last[(place, key)] = version

    def sample(self, final):
        where = {}  # key -> [(place, tier index or -1)]
        a = self.a
        for i, (db, group) in enumerate(self.tiers):
            rows = db.run(unit_sql(a.table, a.key, a.version))
            if rows is None:
                self.unavailable += 1
                continue
            for r in rows:
                if len(r) != 3 or r[2] == "":
                    continue
                place = "unit " + r[0][1:] + ("@%d" % i if len(self.tiers) > 1 else "")
                self.order(place, r[1], int(r[2]))
                where.setdefault(r[1], []).append((place, i))
        rows = self.state.run(
            "SELECT key, max((row_data->>'" + a.version + "')::bigint) FROM syncd_quarantine "
            "WHERE tbl = '" + a.qtable + "' AND row_data ? '" + a.version + "' GROUP BY key;")
        if rows is None:
            self.unavailable += 1
        else:
            for r in rows:
                if len(r) == 2 and r[1] != "":
                    self.order("quarantine", r[0], int(r[1]))
                    where.setdefault(r[0], []).append(("quarantine", -1))
        for key, places in where.items():
            if len(places) < 2:
                continue
            by_db = {}
            for p, i in places:
                if i >= 0 and self.tiers[i][1]:
                    by_db.setdefault(i, []).append(p)
            atomic = [ps for ps in by_db.values() if len(ps) > 1]
            if atomic:
                self.violation("key %s in %s at once (one transaction commits them)" %
                               (key, " and ".join(atomic[0])))
            elif final:
                self.violation("key %s still in %s after the daemon caught up" %
                               (key, " and ".join(p for p, _ in places)))
            else:
                self.transient += 1
        self.samples += 1

    def stats(self):
        with open(self.a.stats, "w") as f:
            f.write("samples=%d transient=%d violations=%d unavailable=%d\n" %
                    (self.samples, self.transient, self.violations, self.unavailable))


def main():
    ap = argparse.ArgumentParser(description="order validator for syncd's units")
    ap.add_argument("--out", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--tier", action="append", required=True)
    ap.add_argument("--table", default="thua_dat")
    ap.add_argument("--key", default="id")
    ap.add_argument("--version", default="phien_ban")
    ap.add_argument("--qtable", default="public.thua_dat")
    ap.add_argument("--interval", type=float, default=0.2)
    a = ap.parse_args()
    v = Validator(a)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        v.sample(False)
        v.stats()
        time.sleep(a.interval)
    v.sample(True)
    v.stats()
    for db, _ in v.tiers:
        db.close()
    v.state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
