#!/usr/bin/env python3
"""What a poll may answer besides a work item, through nginx and the
FastCGI responder.

A 204, a 200 with JSON null and a 200 with no body are an empty queue: the
drainer a webhook started polls once, claims nothing and exits with status
0, quietly.  A work object without an id (here with a secret) is the
control plane's mistake: one event=poll_unusable line says so, the secret
is neither used nor logged, and the drainer exits as on an empty queue.
Afterwards a queued session is served as usual.
"""
import base64
import os

from harness import Checks, Scenario, final_checks, nginx_front, run_started, until

t = Checks()

with Scenario() as sc:
    web, state, log = nginx_front(sc, SANDHOOK_IDLE_TIMEOUT_MS=300)

    def exits():
        return open(log).read().count("event=drain_exit status=0") if os.path.exists(log) else 0

    def polls():
        return sum(r["path"].endswith("/work/poll") for r in sc.fake.log()["requests"])

    for n, mode in enumerate(["204", "null", "empty", "no_id"], 1):
        sc.fake.config(empty_poll=mode)
        before = polls()
        t.eq(web.post("/hooks/sandhook", *run_started("sesn_poll_%s" % mode))[0], 202,
             "run_started accepted (poll answers %s)" % mode)
        t.ok(until(lambda: exits() == n, 60, 0.05),
             "with the poll answering %s, the drainer exits with status 0" % mode,
             "\n".join(open(log).read().splitlines()[-10:]) if os.path.exists(log) else "no log")
        t.ok(polls() > before, "it polled the queue (%s)" % mode)
        unusable = [ln for ln in open(log).read().splitlines() if "event=poll_unusable" in ln]
        t.eq(len(unusable), 1 if mode == "no_id" else 0,
             "a poll_unusable line for the broken object only (after %s)" % mode)

    t.ok(unusable and "status=200" in unusable[0], "the poll_unusable line names the status")
    text = open(log).read()
    secret = base64.b64encode(b'{"sessions_token": "sk-ant-no-id-never-logged"}').decode()
    t.ok("sk-ant-no-id-never-logged" not in text and secret not in text and "event=work_claimed" not in text,
         "nothing was claimed, and neither the secret nor its token is in the log")

    sc.fake.config(empty_poll="204")
    sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo served"}}])["session_id"]
    t.eq(web.post("/hooks/sandhook", *run_started(sid))[0], 202, "run_started for a queued session accepted")
    t.ok(until(lambda: sc.fake.state(sid)["results"] and all(w["state"] == "stopped" for w in sc.fake.work()),
               60, 0.1), "the queued session is served afterwards")
    t.eq([r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()], ["served"],
         "its call answered once")
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
