"""Runs commands RUNS times each (default 3) and prints `SECONDS PEAK_MIB` for
each, a line a command: the best wall time and the largest peak resident
memory of its runs.

    python measure.py [--runs N] [--fresh FILE]... -- CMD ARGS... [::: CMD ARGS...]...

Commands given together are run in turns (the first, the second, ..., then
the first again), so that each round meets the machine in the same state: on
a shared virtual machine, speed drifts over minutes, and timing one tool's
runs after another's would hand the slower minutes to one of them.

Each FILE (a command's output) is deleted before every run of a command that
names it, outside the timing: a command that replaces its last run's output
would otherwise be charged for the file system freeing that file (0.7 to 1 s
for the 1 GB JSON report on this project's build machine, whose ext4 is
mounted with `discard`), a cost that grows with the output's size and does
not depend on the tool."""
import os
import subprocess
import sys
import time

args = sys.argv[1:]
runs = 3
fresh = []
while args[:1] in (["--runs"], ["--fresh"]):
    if args[0] == "--runs":
        runs = int(args[1])
    else:
        fresh.append(args[1])
    args = args[2:]
rest = args[args.index("--") + 1:]
cmds = [[]]
for a in rest:
    if a == ":::":
        cmds.append([])
    else:
        cmds[-1].append(a)
best = [float("inf")] * len(cmds)
peak_kib = [0] * len(cmds)
for _ in range(runs):
    for i, cmd in enumerate(cmds):
        for f in fresh:
            if f in cmd and os.path.exists(f):
                os.remove(f)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        best[i] = min(best[i], time.perf_counter() - start)
        peak_kib[i] = max(peak_kib[i], usage.ru_maxrss)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            sys.exit(f"{cmd[0]} failed with {code}")
for b, p in zip(best, peak_kib):
    print(f"{b:.3f} {p / 1024:.0f}")
