"""Compares two verdict CSVs (identity,pop,imap,smtp) mailbox by mailbox:
python compare.py exoauth.csv other.csv NAME. Exits 1 on any difference."""
import csv
import sys

def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {r["identity"]: (r["pop"], r["imap"], r["smtp"]) for r in csv.DictReader(f)}

ours, theirs, name = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
diff = [k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)]
if diff:
    for k in sorted(diff)[:10]:
        print(f"  {k}: exoauth {ours.get(k)} vs {name} {theirs.get(k)}")
    print(f"{name}: {len(diff)} of {len(ours)} mailboxes differ")
    sys.exit(1)
print(f"{name}: all {len(ours)} mailboxes agree with exoauth")
