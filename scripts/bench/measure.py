"""Runs a command and prints `SECONDS PEAK_MIB` (wall time, peak resident memory
of the command): python measure.py -- CMD ARGS..."""
import resource
import subprocess
import sys
import time

cmd = sys.argv[sys.argv.index("--") + 1:]
start = time.perf_counter()
done = subprocess.run(cmd, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if done.returncode not in (0, 1):
    sys.exit(f"{cmd[0]} failed with {done.returncode}")
print(f"{wall:.3f} {peak_kib / 1024:.0f}")
