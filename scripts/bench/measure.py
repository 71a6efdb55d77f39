"""Runs a command RUNS times (default 3) and prints `SECONDS PEAK_MIB`: the best
wall time and the largest peak resident memory of the runs.
python measure.py [--runs N] -- CMD ARGS..."""
import os
import subprocess
import sys
import time

args = sys.argv[1:]
runs = 3
if args[:1] == ["--runs"]:
    runs, args = int(args[1]), args[2:]
cmd = args[args.index("--") + 1:]
best, peak_kib = float("inf"), 0
for _ in range(runs):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    best = min(best, time.perf_counter() - start)
    peak_kib = max(peak_kib, usage.ru_maxrss)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{cmd[0]} failed with {code}")
print(f"{best:.3f} {peak_kib / 1024:.0f}")
