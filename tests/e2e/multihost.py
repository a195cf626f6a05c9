#!/usr/bin/env python3
"""Many hosts, one queue: three sandhook instances, each with its own state
directory behind its own nginx, against one control plane (the fake), as
three hosts behind a load balancer would be.  60 sessions of two calls;
each delivery goes to a random host and a fifth of them to two hosts at
once.  The queue's atomic claims and leases are the only coordinator:
every session runs once, every call is answered once, no protocol
violation, and no host holds more items than its SANDHOOK_MAX_SESSIONS."""
import os
import random
import threading

from harness import Checks, Scenario, final_checks, nginx_front, run_started, until

HOSTS = 3
SESSIONS = 60
MAX = 2
t = Checks()
rng = random.Random(9)

with Scenario() as sc:
    hosts = []
    for h in range(HOSTS):
        tmp = os.path.join(sc.tmp, "host%d" % h)
        os.makedirs(tmp)
        web, state, _ = nginx_front(sc, tmp, SANDHOOK_WORKSPACE_MB=0, SANDHOOK_MAX_SESSIONS=MAX,
                                    SANDHOOK_IDLE_TIMEOUT_MS=2000)
        hosts.append((web, state, tmp))
    sids = [sc.fake.session([{"tool": "bash", "input": {"command": "echo %d-a" % i}},
                             {"tool": "bash", "input": {"command": "echo %d-b" % i}}])["session_id"]
            for i in range(SESSIONS)]

    answers, lock = [], threading.Lock()

    def deliver(web, body, hdrs):
        st = web.post("/hooks/sandhook", body, hdrs)[0]
        with lock:
            answers.append(st)

    threads = []
    doubled = 0
    for i, sid in enumerate(sids):
        body, hdrs = run_started(sid)
        targets = rng.sample(range(HOSTS), 2 if i % 5 == 0 else 1)
        doubled += len(targets) == 2
        for h in targets:
            th = threading.Thread(target=deliver, args=(hosts[h][0], body, hdrs))
            th.start()
            threads.append(th)
    for th in threads:
        th.join()
    t.eq(sorted(set(answers)), [202], "all %d deliveries (%d of them to two hosts) answered 202"
         % (len(answers), doubled))

    def done():
        return all(sc.fake.state(s)["status"] in ("idle", "terminated") for s in sids) and \
            all(w["state"] == "stopped" for w in sc.fake.work())
    t.ok(until(done, 600, 1), "every session was served and every work item stopped")
    wrong = [i for i, s in enumerate(sids)
             if sorted(r["content"][0]["text"] for r in sc.fake.state(s)["results"].values())
             != ["%d-a" % i, "%d-b" % i]]
    t.eq(wrong, [], "each session's two calls answered exactly once")
    t.eq(sorted(set(w["claims"] for w in sc.fake.work())), [1], "each work item claimed once")
    posts = [r for r in sc.fake.log()["requests"]
             if r.get("method") == "POST" and r.get("path", "").endswith("/events")]
    t.eq(len(posts), 2 * SESSIONS, "%d results posted in all" % (2 * SESSIONS))
    served = [sum("event=work_claimed" in l for l in open(os.path.join(st, "sandhook.log")).read().splitlines())
              if os.path.exists(os.path.join(st, "sandhook.log")) else 0 for _, st, _ in hosts]
    t.eq(sum(served), SESSIONS, "the hosts claimed %s items: %d in all" % (served, sum(served)))
    t.ok(sc.fake.log()["max_active"] <= HOSTS * MAX,
         "never more than %d items held at once (saw %d)" % (HOSTS * MAX, sc.fake.log()["max_active"]))
    final_checks(t, sc.fake, *[os.path.join(st, "sandhook.log") for _, st, _ in hosts],
                 *[os.path.join(tmp, "fcgi.err") for _, _, tmp in hosts])
t.done()
