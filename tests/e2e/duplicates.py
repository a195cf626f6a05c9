#!/usr/bin/env python3
"""The duplicate store under concurrent redeliveries from many processes.

Every delivery is sent six times at once: three times to CGI responders
(one process each) and three times through nginx to the FastCGI responder,
all on one state directory.  Exactly one copy of each is taken as new;
run_started deliveries among them each run their session once.  The store
is one table (seen.table), never a file per delivery.  Deliveries that
fill one bucket seven-eighths have the table doubled after their answers,
by a process of its own, and every id stays a duplicate.
"""
import concurrent.futures
import hashlib
import json
import os

from harness import (Checks, FcgiPool, Nginx, Scenario, cgi, children, delivery, final_checks,
                     run_started, until, write_config)

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
            deliveries.append(delivery("session.status_idled", "sesn_dup", "whe_dup_%d" % i))

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
    # seen.c files an id by the first 64 bits of its SHA-256 (little-endian
    # here); the first table has 16 buckets of 64.  56 ids into one bucket.
    def bucket(msg, n):
        return int.from_bytes(hashlib.sha256(msg.encode()).digest()[:8], "little") & (n - 1)

    table = os.path.join(state, "seen.table")
    first = os.path.getsize(table)
    full = [m for m in ("whe_full_%d" % i for i in range(4000)) if bucket(m, 16) == 5][:56]

    def idled(msg):
        st, payload = web.post("/hooks/sandhook", *delivery("session.status_idled", "sesn_dup", msg))[:2]
        return st, json.loads(payload)["message"]

    pool_pids = {pool.proc.pid, *children(pool.proc.pid)}
    firsts = [idled(m) for m in full]
    t.ok(all(st == 200 and "duplicate" not in msg for st, msg in firsts),
         "56 deliveries into one bucket of the first table are each new", firsts[:3])
    log = os.path.join(state, "sandhook.log")
    t.ok(until(lambda: "event=seen_store_grown" in open(log).read() and os.path.getsize(table) == 2 * first - 64,
               60, 0.1), "the table doubled after the answers (%d to %d bytes)" % (first, os.path.getsize(table)))
    growers = {int(line.split(" pid=")[1].split()[0]) for line in open(log) if "event=seen_store_grown" in line}
    t.ok(growers and not growers & pool_pids,
         "  ...in a process of its own, not the pool's (grower %s, pool %s)" % (sorted(growers), sorted(pool_pids)))
    again = [idled(m) for m in full]
    t.ok(all(st == 200 and "duplicate" in msg for st, msg in again),
         "every one of them is a duplicate in the doubled table", again[:3])
    final_checks(t, sc.fake, os.path.join(state, "sandhook.log"), os.path.join(sc.tmp, "fcgi.err"))

t.done()
