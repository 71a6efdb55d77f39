"""Checks exoauth's sign-in counts against DuckDB's, mailbox by mailbox:

    python compare_signins.py EXOAUTH.json DUCKDB.csv

Every (object id, protocol) DuckDB counts for a mailbox in the report must have
the same successes and failures in exoauth's `usage`, and every mailbox and
protocol exoauth counts must be in DuckDB's table."""
import csv
import json
import sys

APPS = {"pop3": "pop", "imap4": "imap", "authenticated smtp": "smtp"}
report = json.load(open(sys.argv[1], encoding="utf-8"))
ours = {}
for m in report["mailboxes"]:
    oid = (m.get("external_directory_object_id") or "").lower()
    for p, v in m["protocols"].items():
        u = v.get("usage")
        if oid and u and (u["successes"] or u["failures"]):
            ours[(oid, p)] = (u["successes"], u["failures"])
theirs = {}
for row in csv.DictReader(open(sys.argv[2], encoding="utf-8-sig")):
    key = (row["user_id"].lower(), APPS[row["client_app"]])
    s, f = theirs.get(key, (0, 0))
    theirs[key] = (s + int(row["successes"]), f + int(row["failures"]))
mailboxes = {k[0] for k in ours} | {(m.get("external_directory_object_id") or "").lower() for m in report["mailboxes"]}
theirs = {k: v for k, v in theirs.items() if k[0] in mailboxes}
bad = [(k, ours.get(k), theirs.get(k)) for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]
if bad:
    print(f"DISAGREE on {len(bad)} mailbox-protocols, e.g. {bad[:3]}")
    sys.exit(1)
print(f"agree on all {len(ours)} mailbox-protocols with basic-auth sign-ins")
