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

from harness import (Checks, Scenario, final_checks, jail_procs, nginx_front, once, run_started, tagged,
                     until, wait_for)

t = Checks()

with Scenario() as sc:
    web, state, log = nginx_front(sc, SANDHOOK_IDLE_TIMEOUT_MS=2000)
    # A 2 s lease: the drainer beats every second.
    sc.fake.call("POST", "/_fake/config", {"ttl": 2})

    sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo first"}},
                           {"tool": "bash", "input": {"command": once("stop_running")}}])["session_id"]
    body, hdrs = run_started(sid)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "run_started accepted through nginx")
    wait_for(lambda: len(sc.fake.state(sid)["results"]) == 1, 60, 0.1, "the first call's result")
    wait_for(lambda: tagged("stop_running"), 60, 0.1, "the second call running")
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
    t.ok(until(lambda: not jail_procs(state) and not tagged("stop_running"), 30, 0.1),
         "no jail process outlived the stop")

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
