#!/usr/bin/env python3
"""Jail cost: setting up a jail and running `true` in it, sandhook against
bubblewrap doing the same, side by side in one run.

sandhook: bench/jailstart starts the jail as the drainer does (PID 1 of a
new PID namespace; its own mount, IPC, UTS, user and network namespaces,
tmpfs root, pivot_root, uid drop, rlimits, seccomp), sends one bash call
`true`, closes the channel and reaps it.  bwrap: the same namespaces and
mounts, then `/bin/bash --noprofile --norc -c true`.  The same C driver
starts both, in turn.  Run as root from a built tree:

    python3 bench/jail.py [iterations]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
JAIL = os.path.join(TOP, "src", "sandhook-jail")
DRIVER = os.path.join(TOP, "bench", "jailstart")


def bwrap_args(ws):
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr"]
    for d in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + d):
            args += ["--symlink", os.readlink("/" + d), "/" + d]
    return args + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", ws, "/workspace",
                   "--chdir", "/workspace", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL",
                   "/bin/bash", "--noprofile", "--norc", "-c", "true"]


def summary(xs):
    xs = sorted(xs)
    return {"median_ms": round(statistics.median(xs) * 1000, 2),
            "p90_ms": round(xs[int(len(xs) * 0.9) - 1] * 1000, 2),
            "min_ms": round(xs[0] * 1000, 2)}


def measure(n):
    """n interleaved runs of each: (sandhook's seconds, bwrap's)."""
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    if not shutil.which("bwrap"):
        sys.exit("bench: bwrap not found (apt-get install bubblewrap)")
    if not os.path.exists(DRIVER):
        sys.exit("bench: bench/jailstart not built (make)")
    tmp = tempfile.mkdtemp(prefix="sandhook-bench-")
    root, ws = os.path.join(tmp, "root"), os.path.join(tmp, "ws")
    os.makedirs(root)
    os.makedirs(ws)
    os.chown(ws, 65534, 65534)
    try:
        p = subprocess.run([DRIVER, JAIL, root, ws, str(n)] + bwrap_args(ws), capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if p.returncode != 0:
        sys.exit("bench: jailstart failed (exit %d): %s" % (p.returncode, p.stderr[-2000:]))
    times = {"sandhook": [], "bwrap": []}
    for line in p.stdout.split("\n"):
        if line:
            who, ms = line.split()
            times[who].append(float(ms) / 1000)
    return times["sandhook"], times["bwrap"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    ours, theirs = measure(n)
    s, b = summary(ours), summary(theirs)
    print("iterations: %d" % n)
    print("sandhook jail + true: median %.2f ms, p90 %.2f ms, min %.2f ms" % (s["median_ms"], s["p90_ms"], s["min_ms"]))
    print("bwrap + true:         median %.2f ms, p90 %.2f ms, min %.2f ms" % (b["median_ms"], b["p90_ms"], b["min_ms"]))
    print("ratio sandhook/bwrap (median): %.2f" % (s["median_ms"] / b["median_ms"]))


if __name__ == "__main__":
    main()
