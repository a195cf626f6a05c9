#!/usr/bin/env python3
"""An item's stop waits for nothing local.

Once a session has ended, nothing more of it can reach the control plane:
the drainer stops the item, then waits for its jail to end (the helper's
namespaces and the workspace's unmount take milliseconds).  Here the test
freezes the real jail helper (SIGSTOP) after the session's only call, so
that the jail cannot end by itself when the session terminates: the
drainer then kills it after a second.  The fake must have seen the stop
before the helper died (the drainer stops the item first, in program
order: not a race), and the rest as always: the call answered once, the
jail gone, the session's storage removed.

(A session with a memory store is stopped only once its memory folder is
removed, after the jail's end: the folder is the session's, which its next
item would make again under the same name.  Not tested here: freezing the
helper would hold the memory sync before it, not the removal.)
"""
import os
import select
import signal
import subprocess
import threading
import time
from datetime import datetime

from harness import BUILD, Checks, Scenario, final_checks, jail_procs, need_root, until, wait_for, write_config

need_root()
t = Checks()


def frozen_end(sc, name):
    """One session of one call, its helper frozen after the call; returns
    (the item's stop, the helper's death), wall clock, or Nones."""
    cfg, state = write_config(os.path.join(sc.tmp, name), sc.fake.url)
    log = os.path.join(state, "sandhook.log")
    sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo answered"}}],
                          first_delay=0, end_delay=3)["session_id"]
    with open(log, "ab") as err:
        p = subprocess.Popen([os.path.join(BUILD, "src", "sandhook-drain"), "--config", cfg],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    died = []
    try:
        wait_for(lambda: sc.fake.state(sid)["results"], 60, 0.05, "%s: the call's result" % name)
        helper = int(wait_for(lambda: list(jail_procs(state)), 30, 0.05, "%s: the jail helper" % name)[0])
        pidfd = os.pidfd_open(helper)
        os.kill(helper, signal.SIGSTOP)

        def watch():
            select.select([pidfd], [], [])
            died.append(time.time())
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        t.ok(until(lambda: all(w["state"] == "stopped" for w in sc.fake.work() if w["data"]["id"] == sid),
                   60, 0.05), "%s: the item stopped though its jail could not end by itself" % name)
        watcher.join(60)
        rc = p.wait(120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.eq(rc, 0, "%s: the drainer exited cleanly" % name)
    t.eq([r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()], ["answered"],
         "%s: the call was answered once" % name)
    t.ok(not jail_procs(state), "%s: no jail process is left" % name)
    t.ok(until(lambda: not os.path.exists(os.path.join(state, "sessions", sid)), 30, 0.05),
         "%s: the terminated session's storage is removed once its jail is gone" % name)
    final_checks(t, sc.fake, log)
    stopped = [datetime.fromisoformat(w["stopped_at"]).timestamp() for w in sc.fake.work()
               if w["data"]["id"] == sid]
    return (stopped or [None])[0], (died or [None])[0]


with Scenario() as sc:
    stopped, died = frozen_end(sc, "plain")
    t.ok(stopped and died and stopped < died, "plain: the fake saw the stop before the frozen helper was killed",
         "stopped at %r, helper died at %r" % (stopped, died))
t.done()
