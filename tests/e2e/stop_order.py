#!/usr/bin/env python3
"""An item's stop waits for nothing local.

Once a session has ended, nothing more of it can reach the control plane:
the drainer stops the item, then waits for its jail to end (the helper's
namespaces and the workspace's unmount take milliseconds).  Here the test
freezes the real jail helper (SIGSTOP) after the session's only call and
only then has the fake terminate the session, so that the jail cannot end
by itself: the drainer kills it a second after it hung up.  The fake must
have seen the stop before the helper died (the drainer stops the item
first, in program order: not a race), and the rest as always: the call
answered once, the jail gone, the session's storage removed.

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

with Scenario() as sc:
    # Served until the test terminates it: no idle timeout ends it first.
    cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_IDLE_TIMEOUT_MS=0)
    log = os.path.join(state, "sandhook.log")
    sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo answered"}}],
                          first_delay=0, terminate=False)["session_id"]
    with open(log, "ab") as err:
        p = subprocess.Popen([os.path.join(BUILD, "src", "sandhook-drain"), "--config", cfg],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    died = []
    try:
        wait_for(lambda: sc.fake.state(sid)["results"], 60, 0.05, "the call's result")
        helper = int(wait_for(lambda: list(jail_procs(state)), 30, 0.05, "the jail helper")[0])
        pidfd = os.pidfd_open(helper)
        os.kill(helper, signal.SIGSTOP)

        def watch():
            select.select([pidfd], [], [])
            died.append(time.time())
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        sc.fake.call("POST", "/_fake/sessions/%s/terminate" % sid)
        t.ok(until(lambda: all(w["state"] == "stopped" for w in sc.fake.work()), 60, 0.05),
             "the item stopped though its jail could not end by itself")
        watcher.join(60)
        rc = p.wait(120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    stopped = [datetime.fromisoformat(w["stopped_at"]).timestamp() for w in sc.fake.work()]
    t.ok(died and stopped and stopped[0] < died[0],
         "the fake saw the stop before the frozen helper was killed",
         "stopped at %r, helper died at %r" % (stopped, died))
    t.eq(rc, 0, "the drainer exited cleanly")
    t.eq([r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()], ["answered"],
         "the call was answered once")
    t.ok(not jail_procs(state), "no jail process is left")
    t.ok(until(lambda: not os.path.exists(os.path.join(state, "sessions", sid)), 30, 0.05),
         "the terminated session's storage is removed once its jail is gone")
    final_checks(t, sc.fake, log)
t.done()
