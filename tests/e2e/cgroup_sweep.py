#!/usr/bin/env python3
"""No jail cgroup outlives its drainer for long.  A drainer killed in its
teardown, or a jail that would not die in time, leaves sandhook-<work>
groups below the drainer's own; the next drainer's exit and `sandhook gc`
remove those that are empty and older than ten minutes, in every
hierarchy the machine has, and keep a group that still holds a process,
one made a moment ago (its drainer is about to enter it), and one that
is not sandhook's.  The test first moves itself into a group of its own
in each hierarchy, so a drainer of a test running beside it, which sweeps
its own parent, never sweeps ours first.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SANDHOOK, Checks, Scenario, cgi, drainer_log, final_checks, need_root,  # noqa: E402
                     procs_of, run_started, skip, wait_for, write_config)

need_root()
ROOT = "/sys/fs/cgroup"


def parents():
    """This process's group in each hierarchy a drainer uses: what a
    drainer started from here sweeps."""
    out = []
    for line in open("/proc/self/cgroup"):
        _, names, path = line.rstrip("\n").split(":", 2)
        if names == "" and os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
            out.append(ROOT + path)
        for c in ("memory", "pids", "cpu"):
            if c in names.split(","):
                out.append(os.path.join(ROOT, c) + path)
    return [p.rstrip("/") for p in out if os.access(p, os.W_OK)]


def main():
    homes = parents()
    if not homes:
        skip("no cgroup hierarchy this process can make groups in")
    t = Checks()
    tag = os.urandom(4).hex()
    made, holder, dirs = [], None, []
    try:
        for home in homes:
            d = os.path.join(home, "sweeptest-" + tag)
            os.mkdir(d)
            dirs.append(d)
            open(os.path.join(d, "cgroup.procs"), "w").write(str(os.getpid()))

        def group(parent, name, age_s):
            d = os.path.join(parent, name)
            os.mkdir(d)
            made.append(d)
            if age_s:
                old = time.time() - age_s
                os.utime(d, (old, old))
            return d

        orphans, kept = [], []
        holder = subprocess.Popen(["sleep", "300"])
        for p in dirs:
            orphans.append(group(p, "sandhook-work_orphan%s" % tag, 3600))
            kept.append(group(p, "sandhook-work_fresh%s" % tag, 0))
            kept.append(group(p, "other-%s" % tag, 3600))
            busy = group(p, "sandhook-work_busy%s" % tag, 3600)
            open(os.path.join(busy, "cgroup.procs"), "w").write(str(holder.pid))
            kept.append(busy)

        with Scenario() as sc:
            cfg, state = write_config(sc.tmp, sc.fake.url)
            p = subprocess.run([SANDHOOK, "gc", "--config", cfg], capture_output=True, text=True, timeout=60)
            out = p.stdout + p.stderr
            t.ok(p.returncode == 0 and "sandhook gc: %d leftover jail cgroup(s) removed" % len(dirs) in out,
                 "sandhook gc: %d leftover group(s) removed, one per hierarchy (%s)" % (len(dirs), ", ".join(dirs)),
                 out)
            t.ok(not any(os.path.exists(d) for d in orphans), "the empty groups an hour old are gone")
            t.ok(all(os.path.isdir(d) for d in kept),
                 "kept: the group holding a process, the one just made, the one not named sandhook-")
            t.ok("event=cgroups_removed count=%d min_age_s=600" % len(dirs) in out, "the log line counts them")

            # The drainer's exit sweeps too.
            again = [group(p, "sandhook-work_again%s" % tag, 3600) for p in dirs]
            sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo hi"}}])["session_id"]
            t.eq(cgi(cfg, *run_started(sid))[0], 202, "run_started: 202")
            wait_for(lambda: sc.fake.state(sid)["results"], 60, what="the call's result")
            wait_for(lambda: not procs_of(state, b"sandhook-drain"), 60, what="the drainer to exit")
            log = drainer_log(state)
            t.ok(not any(os.path.exists(d) for d in again) and all(os.path.isdir(d) for d in kept),
                 "the drainer's exit removed the leftover groups, and kept the others")
            t.ok("event=cgroups_removed count=%d" % len(dirs) in log, "and logged it")
            t.ok(not any(os.path.exists(os.path.join(p, "sandhook-" + w["data"]["id"]))
                         for p in dirs for w in sc.fake.work()),
                 "the session's own jail group is gone with its item")
            final_checks(t, sc.fake, os.path.join(state, "sandhook.log"))
    finally:
        if holder:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        for home in homes:
            open(os.path.join(home, "cgroup.procs"), "w").write(str(os.getpid()))
        for d in list(reversed(made)) + dirs:
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
    t.ok(not any(os.path.exists(d) for d in made + dirs), "the test's own groups are removed")
    t.done()


if __name__ == "__main__":
    main()
