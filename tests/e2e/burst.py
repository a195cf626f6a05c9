#!/usr/bin/env python3
"""A burst: 200 signed session.status_run_started deliveries for 200
sessions, sent at once (64 connections) through nginx to the FastCGI
responder.  No 5xx and no timeout; every session is served, each call
answered exactly once; never more work items held at once than
SANDHOOK_MAX_SESSIONS."""
import os
import concurrent.futures

from harness import Checks, Scenario, final_checks, nginx_front, run_started, until

SESSIONS = 200
MAX = 4
t = Checks()

with Scenario() as sc:
    web, state, log = nginx_front(sc, SANDHOOK_WORKSPACE_MB=0, SANDHOOK_MAX_SESSIONS=MAX,
                                  SANDHOOK_IDLE_TIMEOUT_MS=2000)
    sids = [sc.fake.session([{"tool": "bash", "input": {"command": "echo %d" % i}}])["session_id"]
            for i in range(SESSIONS)]

    def deliver(sid):
        body, hdrs = run_started(sid)
        try:
            st, _, secs = web.post("/hooks/sandhook", body, hdrs)[:3]
        except Exception as e:         # a timeout or a reset
            return ("error", str(e))
        return (st, secs)

    with concurrent.futures.ThreadPoolExecutor(64) as ex:
        answers = list(ex.map(deliver, sids))
    statuses = sorted(set(a[0] for a in answers), key=str)
    bad = [a for a in answers if a[0] != 202]
    errlog = ""
    for root, _, files in os.walk(os.path.join(sc.tmp, "nginx")):
        errlog += "".join(open(os.path.join(root, f), errors="replace").read()[-1500:]
                          for f in files if f.endswith("error.log"))
    t.ok(statuses == [202], "all %d deliveries answered 202 (no 5xx, no timeout; the slowest in %.2fs)"
         % (SESSIONS, max(a[1] for a in answers if a[0] != "error")),
         "%d bad: %r\n%s\n%s" % (len(bad), bad[:3], errlog, open(os.path.join(sc.tmp, "fcgi.err")).read()[-1500:]))

    def done():
        return all(sc.fake.state(s)["status"] in ("idle", "terminated") for s in sids) and \
            all(w["state"] == "stopped" for w in sc.fake.work())
    t.ok(until(done, 600, 1), "every session was served and every work item stopped")
    wrong = [i for i, s in enumerate(sids)
             if [r["content"][0]["text"] for r in sc.fake.state(s)["results"].values()] != [str(i)]]
    t.eq(wrong, [], "each session's call answered exactly once, with its own output")
    seen = sc.fake.log()
    t.ok(seen["max_active"] <= MAX, "at most %d work items held at once (saw %d)" % (MAX, seen["max_active"]))
    claims = [w["claims"] for w in sc.fake.work()]
    t.eq(sorted(set(claims)), [1], "each work item claimed once")
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
