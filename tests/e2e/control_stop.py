#!/usr/bin/env python3
"""A stop from the control plane is not an error for the agent (spec 13).

Through nginx and the FastCGI responder: a session runs a call that
finishes and then one that blocks; a heartbeat answers state "stopping"
(lease_extended false) while the second runs.  As the official worker does,
the drainer aborts that call and posts nothing for it, force-stops the
item, and leaves no jail behind; the first call's result, obtained before
the stop, stays posted.  The session's next work item re-runs the
interrupted call: every call is answered exactly once.  (SIGTERM, our own
shutdown, still answers the running call with a cancellation: session.py.)
"""
import os
import subprocess

from harness import (Checks, FcgiPool, Nginx, Scenario, final_checks, run_started, until,
                     wait_for, write_config)

t = Checks()

# Blocks the first time it runs, answers at once the second time (the
# workspace is kept across work items); while it blocks, a process named
# stop_running says so.
ONCE = ("if [ -e /workspace/ran ]; then echo rerun; else touch /workspace/ran; "
        "(exec -a stop_running sleep infinity &); while :; do sleep 0.1; done; fi")


def running():
    return subprocess.run(["pgrep", "-f", "stop_running"], capture_output=True).returncode == 0


def jail_alive(state):
    """Processes of this test's jails: their stderr is this state's log."""
    log = os.path.join(state, "sandhook.log")
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/fd/2" % pid) == log and \
               open("/proc/%s/cmdline" % pid, "rb").read().startswith(b"sandhook-jail"):
                found.append(pid)
        except OSError:
            continue
    return found


with Scenario() as sc:
    cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_IDLE_TIMEOUT_MS=2000)
    pool = sc.add(FcgiPool(sc.tmp, cfg))
    web = sc.add(Nginx(sc.tmp, pool.sock))
    log = os.path.join(state, "sandhook.log")
    # A 2 s lease: the drainer beats every second.
    sc.fake.call("POST", "/_fake/config", {"ttl": 2})

    sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo first"}},
                           {"tool": "bash", "input": {"command": ONCE}}])["session_id"]
    body, hdrs = run_started(sid)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "run_started accepted through nginx")
    wait_for(lambda: len(sc.fake.state(sid)["results"]) == 1, 60, 0.1, "the first call's result")
    wait_for(running, 60, 0.1, "the second call running")
    sc.fake.call("POST", "/_fake/faults", {"heartbeat_stopping": 1})
    t.ok(until(lambda: all(w["state"] == "stopped" for w in sc.fake.work()), 30, 0.1),
         "the stop is honoured: the item is force-stopped")
    text = open(log).read()
    t.ok("event=tool_aborted" in text and "reason=stopped_by_control_plane" in text,
         "the aborted call is logged with the reason",
         "\n".join(l for l in text.splitlines() if "tool_" in l))
    results = sc.fake.state(sid)["results"]
    t.eq([r["content"][0]["text"] for r in results.values()], ["first"],
         "nothing was posted for the aborted call; the call finished before the stop stays answered")
    t.ok(not any("cancelled" in r["content"][0]["text"] for r in results.values()),
         "no cancellation reached the agent")
    t.ok(until(lambda: not jail_alive(state) and not running(), 30, 0.1), "no jail process outlived the stop")

    # The session's next work item: whoever claims it re-runs the call.
    sc.fake.call("POST", "/_fake/work", {"session_id": sid})
    body, hdrs = run_started(sid)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "the next work item's webhook accepted")
    t.ok(until(lambda: len(sc.fake.state(sid)["results"]) == 2 and
               all(w["state"] == "stopped" for w in sc.fake.work()), 60, 0.1),
         "the next item answers the interrupted call and stops")
    results = sc.fake.state(sid)["results"]
    t.eq(sorted(r["content"][0]["text"] for r in results.values()), ["first", "rerun"],
         "each call answered exactly once: the interrupted one re-run, the finished one not")
    posts = [r for r in sc.fake.log()["requests"] if r.get("method") == "POST" and
             r.get("path", "").endswith("/events")]
    t.eq(len(posts), 2, "two results posted in all")
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
