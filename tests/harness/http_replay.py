#!/usr/bin/env python3
"""http_replay.py -- what an HTTP target's receiver holds, checked (issue 13).

Reads the receiver's log (receiver.py --log), keeps the requests answered
2xx, and checks what a receiver that dedupes by Idempotency-Key relies on:

  * one key, one body: every 2xx of a key carried the same bytes;
  * per unit, the batches follow each other: in order of first arrival each
    batch's lsn_from is the lsn_to of the batch before it (pieces of one
    split batch share both and end in -1, -2, ...), so nothing is missing,
    repeated under another key, or out of order;
  * replayed in that order (insert/update replace by key, old_key first
    removed, columns named in "unchanged" kept from before, delete removes,
    truncate empties), each unit's rows equal the
    unit's copy in the tier, given as a dump of lines UNIT<TAB>TABLE<TAB>JSON
    (to_jsonb of the row).

  http_replay.py --log LOG --tier DUMP --units 31117,31120 [--path-prefix /u/]

Prints one line per unit and exits 1 on the first kind of failure found,
with what differs.
"""
import argparse
import base64
import json
import sys


def canon(v):
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def bytea_b64(row):
    """to_jsonb writes bytea as "\\x<hex>"; the payload as base64."""
    for k, v in row.items():
        if isinstance(v, str) and v.startswith("\\x"):
            try:
                row[k] = base64.b64encode(bytes.fromhex(v[2:])).decode()
            except ValueError:
                pass
    return row


def load_json(text):
    # numbers kept as their digits: PostgreSQL's own text on both sides
    return json.loads(text, parse_float=str, parse_int=str)


def batches(log, prefix):
    """Per unit: [(key, body_obj)] in order of first 2xx arrival."""
    seen = {}
    per_unit = {}
    problems = []
    with open(log) as f:
        for line in f:
            e = json.loads(line)
            if not (200 <= e.get("status", 0) < 300) or not e["path"].startswith(prefix):
                continue
            key = e["headers"].get("idempotency-key", "")
            if key in seen:
                if seen[key] != e["body"]:
                    problems.append("key %s delivered twice with different bodies" % key)
                continue
            seen[key] = e["body"]
            body = load_json(e["body"])
            per_unit.setdefault(str(body["unit"]), []).append((key, body))
            # each source's batches of a unit follow each other; sources interleave
    return per_unit, problems


def chain(unit, items):
    problems = []
    prev = {}  # source -> (lsn_from, lsn_to) of its last batch
    for key, b in items:
        f, t = b["lsn_from"], b["lsn_to"]
        pf, pt = prev.get(b["source"], ("0/0", "0/0"))
        # a full copy (a resync after a detachment) starts with truncates: it may follow a gap
        full_copy = bool(b["changes"]) and b["changes"][0]["op"] == "truncate"
        if f != pt and not (f == pf and t == pt) and not full_copy:
            problems.append("unit %s: batch %s starts at %s, the one before ended at %s" % (unit, key, f, pt))
        if not key.startswith(b["source"]):
            problems.append("unit %s: key %s is not the batch id" % (unit, key))
        prev[b["source"]] = (f, t)
    return problems


def replay(items):
    rows = {}  # (table, canon(key)) -> row
    for _, b in items:
        for c in b["changes"]:
            tbl = c["table"]
            if c["op"] == "truncate":
                for k in [k for k in rows if k[0] == tbl]:
                    del rows[k]
                continue
            before = rows.get((tbl, canon(c.get("old_key") or c.get("key"))))
            if c.get("old_key") is not None:
                rows.pop((tbl, canon(c["old_key"])), None)
            if c["op"] == "delete":
                continue
            row = dict(c["row"])
            # an unchanged TOASTed value: the receiver keeps what it has
            for col in c.get("unchanged", []):
                if before is not None and col in before:
                    row[col] = before[col]
            rows[(tbl, canon(c["key"]))] = row
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--tier", required=True)
    p.add_argument("--units", required=True)
    p.add_argument("--path-prefix", default="/")
    a = p.parse_args()
    per_unit, problems = batches(a.log, a.path_prefix)
    keycols = {}
    for items in per_unit.values():
        for _, b in items:
            for c in b["changes"]:
                if c.get("key"):
                    keycols[c["table"]] = sorted(c["key"])
    tier = {}
    with open(a.tier) as f:
        for line in f:
            unit, tbl, js = line.rstrip("\n").split("\t", 2)
            row = bytea_b64(load_json(js))
            key = {k: row[k] for k in keycols.get(tbl, [])}
            tier.setdefault(unit, {})[(tbl, canon(key))] = row
    for unit in a.units.split(","):
        items = per_unit.get(unit, [])
        problems += chain(unit, items)
        got = replay(items)
        want = tier.get(unit, {})
        missing = [k for k in want if k not in got]
        extra = [k for k in got if k not in want]
        differ = [k for k in want if k in got and canon(got[k]) != canon(want[k])]
        if missing or extra or differ:
            problems.append("unit %s: %d rows missing, %d extra, %d differ; e.g. %s" % (
                unit, len(missing), len(extra), len(differ),
                (missing or extra or differ)[0] if (missing or extra or differ) else ""))
            for k in differ[:2]:
                problems.append("  %s: receiver %s, tier %s" % (k, canon(got[k]), canon(want[k])))
        print("unit %s: %d batches, %d rows" % (unit, len(items), len(got)))
    for pr in problems[:20]:
        print("PROBLEM: " + pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
