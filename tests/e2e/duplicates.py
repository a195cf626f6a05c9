#!/usr/bin/env python3
"""The duplicate store under concurrent redeliveries from many processes.

Every delivery is sent six times at once: three times to CGI responders
(one process each) and three times through nginx to the FastCGI responder,
all on one state directory.  Exactly one copy of each is taken as new;
run_started deliveries among them each run their session once.  The store
is one table (seen.table), never a file per delivery.
"""
import concurrent.futures
import json
import os

from harness import (Checks, FcgiPool, Nginx, Scenario, cgi, final_checks, run_started, sign, until,
                     write_config)

IDS = 40
RUNS = 4                # of the IDS, run_started deliveries whose session runs
COPIES = 3              # per front: CGI and FastCGI

t = Checks()

with Scenario() as sc:
    cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_WORKSPACE_MB=0, SANDHOOK_IDLE_TIMEOUT_MS=500)
    pool = sc.add(FcgiPool(sc.tmp, cfg))
    web = sc.add(Nginx(os.path.join(sc.tmp, "web"), pool.sock))

    deliveries, sids = [], []
    for i in range(IDS):
        if i < RUNS:
            sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo run %d" % i}}])["session_id"]
            sids.append(sid)
            deliveries.append(run_started(sid, "whe_dup_run_%d" % i))
        else:
            msg = "whe_dup_%d" % i
            body = json.dumps({"type": "event", "id": msg, "created_at": "2026-12-03T00:00:00Z",
                               "data": {"type": "session.status_idled", "id": "sesn_dup"}}).encode()
            deliveries.append((body, sign(body, msg)))

    def via_cgi(i):
        st, _, payload, *_ = cgi(cfg, *deliveries[i])
        return i, st, payload

    def via_fcgi(i):
        st, payload = web.post("/hooks/sandhook", *deliveries[i])[:2]
        return i, st, payload

    jobs = [(f, i) for i in range(IDS) for _ in range(COPIES) for f in (via_cgi, via_fcgi)]
    with concurrent.futures.ThreadPoolExecutor(24) as ex:
        answers = list(ex.map(lambda job: job[0](job[1]), jobs))

    t.ok(all(200 <= st < 300 for _, st, _ in answers), "every one of the %d copies got a 2xx" % len(answers),
         [a for a in answers if not 200 <= a[1] < 300][:3])
    new = {}
    for i, st, payload in answers:
        if "duplicate" not in json.loads(payload)["message"]:
            new[i] = new.get(i, 0) + 1
    t.eq(sorted(new.items()), [(i, 1) for i in range(IDS)],
         "each delivery was taken as new by exactly one of its %d concurrent copies" % (2 * COPIES))
    t.eq(sorted(f for f in os.listdir(state) if f.startswith("seen")), ["seen.table"],
         "the store is one table in the state directory, no file per delivery")

    def ran():
        return all([r["content"][0]["text"] for r in sc.fake.state(s)["results"].values()] == ["run %d" % k]
                   for k, s in enumerate(sids))
    t.ok(until(lambda: ran() and all(w["state"] == "stopped" for w in sc.fake.work()), 60, 0.2),
         "each run_started session ran its call once", [sc.fake.state(s)["results"] for s in sids])
    final_checks(t, sc.fake, os.path.join(state, "sandhook.log"), os.path.join(sc.tmp, "fcgi.err"))

t.done()
