"""Compares two verdict CSVs (identity,pop,imap,smtp) mailbox by mailbox, keyed
by identity (row order does not matter): python compare.py exoauth.csv other.csv NAME.
Exits 1 on any difference, or when either file lists a mailbox twice."""
import csv
import sys

def load(path):
    rows = {}
    dupes = 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            dupes += r["identity"] in rows
            rows[r["identity"]] = (r["pop"], r["imap"], r["smtp"])
    return rows, dupes

(ours, our_dupes), (theirs, their_dupes), name = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
diff = [k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)]
for k in sorted(diff)[:10]:
    print(f"  {k}: exoauth {ours.get(k)} vs {name} {theirs.get(k)}")
if diff or our_dupes or their_dupes:
    print(f"{name}: {len(diff)} of {len(ours)} mailboxes differ; duplicate rows: exoauth {our_dupes}, {name} {their_dupes}")
    sys.exit(1)
print(f"{name}: all {len(ours)} mailboxes agree with exoauth")
