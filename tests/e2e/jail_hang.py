#!/usr/bin/env python3
"""A jail helper that never says it is ready does not hold a stopping drainer.

The drainer's slot threads block SIGTERM and see it in their waits; the
wait for the helper's first byte (at most 30 s) is one of them.  Here a
copy of sandhook-drain finds, beside it, a "sandhook-jail" that only
sleeps: the session's jail never settles.  SIGTERM ends the drainer without
waiting out the 30 s, the helper is killed and the item stopped, nothing is
posted for the call that never ran, and the session's next work item, on
the real helper, answers it once.
"""
import os
import shutil
import signal
import stat
import subprocess

from harness import BUILD, Checks, Scenario, final_checks, need_root, until, wait_for, write_config

need_root()
t = Checks()
MARK = "3217"


def hung_helpers():
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[:2] == [b"sleep", MARK.encode()]:
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


with Scenario() as sc:
    cfg, state = write_config(sc.tmp, sc.fake.url)
    log = os.path.join(state, "sandhook.log")
    bindir = os.path.join(sc.tmp, "bin")
    os.makedirs(bindir)
    drain = os.path.join(bindir, "sandhook-drain")
    shutil.copy(os.path.join(BUILD, "src", "sandhook-drain"), drain)
    helper = os.path.join(bindir, "sandhook-jail")
    with open(helper, "w") as f:
        f.write("#!/bin/sh\nexec sleep %s\n" % MARK)
    os.chmod(helper, stat.S_IRWXU)

    sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo answered"}}])["session_id"]
    with open(log, "ab") as err:
        p = subprocess.Popen([drain, "--config", cfg], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(hung_helpers, 30, 0.05, "the drainer to start the helper that hangs")
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(20)
        except subprocess.TimeoutExpired:
            rc = None
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.ok(rc is not None, "SIGTERM ends the drainer while its jail helper has not settled "
         "(it waited out the helper's 30 s before)")
    text = open(log).read()
    t.ok(any("event=jail_open_aborted" in l and "reason=sigterm" in l for l in text.splitlines()), "the given-up jail is logged with the reason",
         "\n".join(l for l in text.splitlines() if "jail" in l))
    t.ok(until(lambda: not hung_helpers(), 10, 0.05), "the helper was killed with it")
    t.ok(until(lambda: all(w["state"] == "stopped" for w in sc.fake.work()), 10, 0.05), "the item stopped")
    t.eq(sc.fake.state(sid)["results"], {}, "nothing was posted for the call that never ran")

    # The session's next work item, on the real helper, answers the call.
    sc.fake.call("POST", "/_fake/work", {"session_id": sid})
    with open(log, "ab") as err:
        subprocess.run([os.path.join(BUILD, "src", "sandhook-drain"), "--config", cfg],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=120)
    results = sc.fake.state(sid)["results"]
    t.eq([r["content"][0]["text"] for r in results.values()], ["answered"],
         "the next item runs the call and answers it once")
    final_checks(t, sc.fake, log)
t.done()
