#!/usr/bin/env bash
# End-to-end benchmark: exoauth against the floor (wc -l), a DuckDB SQL query and
# a pandas script computing the same per-mailbox verdicts from the same CSV files.
#
#   scripts/bench.sh            # 1,000,000 mailboxes (about 330 MB of CSV)
#   BENCH_N=100000 scripts/bench.sh
#
# Builds exoauth in release mode, generates the tenant with `exoauth generate`,
# installs DuckDB and pandas with pip into target/bench-venv, runs each tool
# BENCH_RUNS times (default 3) with a warm page cache, prints the best wall time,
# the largest peak memory and the ratios, checks that
# DuckDB's and pandas' verdicts agree with exoauth's on every mailbox, and
# measures exoauth at 10k, 100k and 1M mailboxes to show how cost grows.
# A second section times the readiness job: SIGNIN_N mailboxes (100,000) with
# EVENTS sign-in events (2,000,000) as the Entra portal's CSV downloads, against
# DuckDB counting successes and failures per user and protocol, and checks that
# both count the same.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-1000000}
WORK=target/bench
VENV=target/bench-venv
mkdir -p "$WORK"

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# What touching fresh memory costs here: on a virtual machine, often more than the work itself.
python3 -c 'import time; t = time.perf_counter(); b = bytearray(512 << 20); b[::4096] = bytes(len(b) // 4096); print("== machine: first touch of 512 MiB takes %.2f s" % (time.perf_counter() - t))'
cargo build --release --quiet
EXO=target/release/exoauth

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check duckdb pandas
fi
PY="$VENV/bin/python"
RUNS=${BENCH_RUNS:-3}
measure() { "$PY" scripts/bench/measure.py --runs "$RUNS" -- "$@"; }

tenant() { # N -> dir
  local dir="$WORK/tenant-$1"
  [ -f "$dir/manifest.json" ] || "$EXO" generate --mailboxes "$1" --seed 7 -o "$dir" >/dev/null
  echo "$dir"
}

DIR=$(tenant "$N")
FILES=("$DIR"/*.csv)
echo "== tenant: $N mailboxes, $(du -ch "${FILES[@]}" | tail -1 | cut -f1) of CSV in $DIR"
cat "${FILES[@]}" >/dev/null # warm the page cache

read -r WC_S WC_M < <(measure wc -l "${FILES[@]}")
read -r CSV_S CSV_M < <(measure "$EXO" audit "$DIR" --format csv -o "$WORK/exoauth.csv" --as-of 2026-11-25 --progress never)
read -r JSON_S JSON_M < <(measure "$EXO" audit "$DIR" --format json -o "$WORK/exoauth.json" --as-of 2026-11-25 --progress never)
read -r DUCK_S DUCK_M < <(measure "$PY" scripts/bench/duckdb_verdicts.py "$DIR" "$WORK/duckdb.csv")
read -r PANDAS_S PANDAS_M < <(measure "$PY" scripts/bench/pandas_verdicts.py "$DIR" "$WORK/pandas.csv")

printf '\n%-28s %9s %10s\n' "tool" "wall s" "peak MiB"
printf '%-28s %9s %10s\n' "wc -l (reading the bytes)" "$WC_S" "$WC_M"
printf '%-28s %9s %10s\n' "exoauth, CSV report" "$CSV_S" "$CSV_M"
printf '%-28s %9s %10s\n' "exoauth, JSON report" "$JSON_S" "$JSON_M"
printf '%-28s %9s %10s\n' "DuckDB SQL" "$DUCK_S" "$DUCK_M"
printf '%-28s %9s %10s\n' "pandas" "$PANDAS_S" "$PANDAS_M"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "exoauth/wc      $(ratio "$CSV_S" "$WC_S")x"
echo "duckdb/exoauth  $(ratio "$DUCK_S" "$CSV_S")x   (target: at least 3x)"
echo "pandas/exoauth  $(ratio "$PANDAS_S" "$CSV_S")x"
echo

echo "== agreement, mailbox by mailbox"
"$PY" scripts/bench/compare.py "$WORK/exoauth.csv" "$WORK/duckdb.csv" DuckDB
"$PY" scripts/bench/compare.py "$WORK/exoauth.csv" "$WORK/pandas.csv" pandas

echo
echo "== sign-in evidence: ${SIGNIN_N:=100000} mailboxes and ${EVENTS:=2000000} sign-in events (portal CSV downloads)"
SDIR="$WORK/signins-$SIGNIN_N-$EVENTS"
[ -d "$SDIR/signins" ] || "$EXO" generate --mailboxes "$SIGNIN_N" --sign-ins "$EVENTS" --seed 7 -o "$SDIR" >/dev/null
echo "   $(du -ch "$SDIR"/signins/*.csv | tail -1 | cut -f1) of sign-in CSV"
cat "$SDIR"/signins/*.csv >/dev/null
read -r EV_S EV_M < <(measure "$EXO" audit "$SDIR" --sign-ins "$SDIR/signins" --all-recipient-types --format csv -o "$WORK/exoauth-signins.csv" --as-of 2026-11-29 --progress never)
read -r DS_S DS_M < <(measure "$PY" scripts/bench/duckdb_signins.py "$SDIR/signins" "$WORK/duckdb-signins.csv")
printf '%-44s %9s %10s\n' "exoauth audit with --sign-ins (CSV report)" "$EV_S" "$EV_M"
printf '%-44s %9s %10s\n' "DuckDB, counting per user and protocol" "$DS_S" "$DS_M"
echo "exoauth/duckdb  $(ratio "$EV_S" "$DS_S")x   (target: at most 1.00x; peak under 256 MiB: $EV_M MiB)"
"$EXO" audit "$SDIR" --sign-ins "$SDIR/signins" --all-recipient-types --format json -o "$WORK/exoauth-signins.json" --as-of 2026-11-29 --progress never -q || true
"$PY" scripts/bench/compare_signins.py "$WORK/exoauth-signins.json" "$WORK/duckdb-signins.csv"

echo
echo "== growth (exoauth, CSV report)"
printf '%-10s %9s %10s %14s\n' "mailboxes" "wall s" "peak MiB" "us/mailbox"
for n in 10000 100000 1000000; do
  [ "$n" -gt "$N" ] && break
  d=$(tenant "$n")
  cat "$d"/*.csv >/dev/null
  read -r S M < <(measure "$EXO" audit "$d" --format csv -o "$WORK/growth.csv" --as-of 2026-11-25 --progress never)
  printf '%-10s %9s %10s %14s\n' "$n" "$S" "$M" "$(awk -v s="$S" -v n="$n" 'BEGIN { printf "%.2f", s * 1e6 / n }')"
done
