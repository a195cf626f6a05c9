#!/usr/bin/env python3
"""No wake-up is lost when the front end dies mid-delivery.

- The responder killed after it marked a delivery seen but before it
  started a drainer (the state such a death leaves: the mark, no drainer,
  no answer): the sender's retry is a duplicate, and it still polls the
  queue, so the session runs, once.
- nginx restarted in the middle of a burst: requests in flight fail, the
  sender retries each until it gets a 2xx (as Standard Webhooks senders
  do), and every session runs once.
"""
import os
import concurrent.futures
import signal
import subprocess
import threading

from harness import (SANDHOOK, Checks, FcgiPool, Nginx, Scenario, cgi_env, final_checks, run_started,
                     until, write_config)

t = Checks()

with Scenario() as sc:
    cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_WORKSPACE_MB=0, SANDHOOK_IDLE_TIMEOUT_MS=2000)
    pool = sc.add(FcgiPool(sc.tmp, cfg))
    web = sc.add(Nginx(os.path.join(sc.tmp, "web1"), pool.sock))
    log = os.path.join(state, "sandhook.log")

    def texts(sid):
        return [r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()]

    # The mark without the drainer.
    sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo once"}}])["session_id"]
    body, hdrs = run_started(sid)
    # A CGI responder on the same state, killed (strace injects SIGKILL)
    # as it forks the drainer: after its mark, before anything acts on it.
    died = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=clone,clone3,fork,vfork",
                           "-e", "inject=clone,clone3,fork,vfork:signal=KILL", SANDHOOK],
                          input=body, env=cgi_env(cfg, body, hdrs), capture_output=True, timeout=30)
    t.ok(died.returncode == -signal.SIGKILL or died.returncode == 128 + signal.SIGKILL,
         "the first responder was killed as it started the drainer (rc %d)" % died.returncode)
    t.ok(not sc.fake.work() or all(w["state"] == "queued" for w in sc.fake.work()),
         "  ...so nothing claimed the session", sc.fake.work())
    st, payload = web.post("/hooks/sandhook", body, hdrs)[:2]
    t.eq(st, 200, "the retry of a delivery marked before its responder died is a duplicate")
    t.ok("polling the queue again" in payload, "which polls the queue again: " + payload)
    t.ok(until(lambda: texts(sid) == ["once"] and all(w["state"] == "stopped" for w in sc.fake.work()),
               60, 0.2), "and the session runs, once")

    # nginx restarted mid-burst; the sender retries what failed.
    sids = [sc.fake.session([{"tool": "bash", "input": {"command": "echo %d" % i}}])["session_id"]
            for i in range(30)]
    deliveries = [run_started(s) for s in sids]
    current = {"web": web}
    done, lock = [0], threading.Lock()

    def send(i):
        body, hdrs = deliveries[i]
        for attempt in range(20):
            try:
                st = current["web"].post("/hooks/sandhook", body, hdrs)[0]
            except Exception:
                st = 0
            if 200 <= st < 300:
                with lock:
                    done[0] += 1
                return attempt
            until(lambda: current["web"] is not web, 10, 0.05)
        return None

    def restart():
        until(lambda: done[0] >= 10, 60, 0.01)
        web.stop()
        current["web"] = sc.add(Nginx(os.path.join(sc.tmp, "web2"), pool.sock))

    restarter = threading.Thread(target=restart)
    restarter.start()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        attempts = list(ex.map(send, range(len(sids))))
    restarter.join()
    t.ok(None not in attempts, "every delivery got a 2xx in the end (%d needed a retry)"
         % sum(1 for a in attempts if a))
    t.ok(until(lambda: all(texts(s) == [str(i)] for i, s in enumerate(sids)) and
               all(w["state"] == "stopped" for w in sc.fake.work()), 120, 0.5),
         "every session of the burst ran, each call answered once")
    t.eq(sorted(set(w["claims"] for w in sc.fake.work())), [1], "each work item claimed once")
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
