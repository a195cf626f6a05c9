#!/usr/bin/env python3
"""The control plane away, in the middle of a call, through nginx and the
FastCGI responder.

Every API call fails (503) from the moment the call is running.  The call
finishes but its result cannot be posted; the lease cannot be renewed.  The
drainer retries with backoff, bounded by the lease, gives the item up, says
so in one clear line and exits: no busy loop, no jail left, its slot free.
The control plane back, the next webhook's drainer reclaims the item and
runs the call again: it is answered exactly once.
"""
import os

from harness import (Checks, Scenario, final_checks, nginx_front, once, procs_of, release, run_started,
                     tagged, until, wait_for)

t = Checks()


with Scenario() as sc:
    web, state, log = nginx_front(sc, SANDHOOK_IDLE_TIMEOUT_MS=2000, SANDHOOK_MAX_SESSIONS=1)
    sc.fake.call("POST", "/_fake/config", {"ttl": 3})

    sid = sc.fake.session([{"tool": "bash", "input": {"command": once("outage_running")}}])["session_id"]
    body, hdrs = run_started(sid)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "run_started accepted")
    wait_for(lambda: tagged("outage_running"), 60, 0.1, "the call to run")
    sc.fake.call("POST", "/_fake/faults", {"outage": 1})
    release("outage_running")
    t.ok(until(lambda: "event=drain_exit" in open(log).read() and not procs_of(state, b"sandhook-drain"), 120, 0.2),
         "with the control plane away, the drainer gives up and exits",
         "\n".join(open(log).read().splitlines()[-15:]))
    text = open(log).read()
    requests_during = len(sc.fake.log()["requests"])
    t.ok("event=drain_gave_up" in text and "the next webhook resumes the queue" in text and
         "event=drain_exit status=1" in text, "it says why it gave up, and that it failed")
    t.ok(until(lambda: not tagged("outage_running"), 30, 0.1), "no jail is left")
    t.eq(sc.fake.state(sid)["results"], {}, "nothing was answered while the control plane was away")

    sc.fake.call("POST", "/_fake/faults", {"outage": 0})
    body, hdrs = run_started(sid)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "back again, the next webhook is accepted")
    t.ok(until(lambda: len(sc.fake.state(sid)["results"]) == 1 and
               all(w["state"] == "stopped" for w in sc.fake.work()), 120, 0.2),
         "the next drainer reclaims the item and answers the call",
         "\n".join(open(log).read().splitlines()[-15:]))
    t.eq([r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()], ["rerun"],
         "the call was answered exactly once")
    t.ok(requests_during < 200, "the away time cost %d requests in all: no busy loop" % requests_during)
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
