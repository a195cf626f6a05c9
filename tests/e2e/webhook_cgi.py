#!/usr/bin/env python3
"""Webhook verification through the CGI front end, as a black box.

Every status the issue names (405, 413, 400, 401, 503, 2xx, never 3xx),
duplicates across processes, and answer-first: the CGI process returns at
once and the drainer it started claims the work afterwards.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, final_checks, Fake, cgi, drainer_log, free_tmp, run_started, sign,
                     gated, release, wait_for, write_config, SIGNING_KEY)

t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
try:
    cfg, state = write_config(tmp, fake.url)
    idled = json.dumps({"type": "event", "id": "whe_idle_1", "created_at": "2026-11-28T00:00:00Z",
                        "data": {"type": "session.status_idled", "id": "sesn_x"}}).encode()
    good = sign(idled, "whe_idle_1")

    st, h, body, dt, err = cgi(cfg, b"", {}, method="GET")
    t.eq(st, 405, "GET is 405")
    t.eq(h.get("Allow"), "POST", "405 names the allowed method")

    st, *_ = cgi(cfg, idled, {k: v for k, v in good.items() if k != "webhook-signature"})
    t.eq(st, 400, "missing webhook-signature is 400")
    st, *_ = cgi(cfg, idled, dict(good, **{"webhook-timestamp": "soon"}))
    t.eq(st, 400, "non-numeric timestamp is 400")
    st, *_ = cgi(cfg, idled, sign(idled, "whe_idle_1", ts=int(time.time()) - 301))
    t.eq(st, 401, "a timestamp 301 s old is 401")
    # Ahead by well past the 300 s tolerance: 301 raced the clock (the
    # second could turn, and the CGI process start under load take time,
    # between the signing here and the check there, and the timestamp then
    # read as 300 s ahead, which is accepted). The exact bounds are
    # webhook_test's, on a fixed clock.
    st, *_ = cgi(cfg, idled, sign(idled, "whe_idle_1", ts=int(time.time()) + 330))
    t.eq(st, 401, "a timestamp 330 s ahead is 401")
    st, *_ = cgi(cfg, idled, dict(good, **{"webhook-signature": "v1,AAAA" + good["webhook-signature"][7:]}))
    t.eq(st, 401, "a wrong signature is 401")
    st, *_ = cgi(cfg, idled + b" ", good)
    t.eq(st, 401, "a changed body is 401")
    other = sign(idled, "whe_other")
    st, _, b, *_ = cgi(cfg, idled, other)
    t.eq(st, 400, "body id differing from webhook-id is 400")

    big = b"x" * (1024 * 1024 + 1)
    st, *_ = cgi(cfg, big, sign(big, "whe_big"))
    t.eq(st, 413, "a body over 1 MiB is 413")
    st, *_ = cgi(cfg, idled, good, extra_env={"CONTENT_LENGTH": str(len(idled) + 10)})
    t.eq(st, 400, "a body shorter than Content-Length is 400")

    os.makedirs(tmp + "/nokey")
    nokey, _ = write_config(tmp + "/nokey", fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY=None)
    st, _, b, _, err = cgi(nokey, idled, good)
    t.eq(st, 503, "no signing key configured is 503")

    st, _, b, _, err = cgi(cfg, idled, good)
    t.eq(st, 200, "a verified event of another type is 2xx")
    t.ok(json.loads(b)["message"] == "event type ignored", "and does nothing")
    st, _, b, _, err = cgi(cfg, idled, good)
    t.eq(st, 200, "the same webhook-id again is 2xx")
    t.ok("duplicate" in json.loads(b)["message"], "and is reported as a duplicate")
    t.ok(SIGNING_KEY[6:] not in err and good["webhook-signature"][3:] not in err,
         "no key or signature in the log")

    unknown = json.dumps({"type": "event", "id": "whe_new_type", "created_at": "x",
                          "data": {"type": "session.something_new", "id": "x"}}).encode()
    st, *_ = cgi(cfg, unknown, sign(unknown, "whe_new_type"))
    t.eq(st, 200, "an unknown event type is 2xx")

    # Answer first: the session cannot finish until the test lets it, and
    # the CGI process has returned by then.
    sess = fake.session([{"tool": "bash", "input": {"command": gated("cgi_gate", "slept")}}])
    body, hdrs = run_started(sess["session_id"], "whe_run_1")
    st, _, b, dt, err = cgi(cfg, body, hdrs)
    t.eq(st, 202, "run_started is 202 (in %.2fs)" % dt)
    t.ok(not fake.state(sess["session_id"])["results"], "the CGI process returned while the session ran")
    # The same delivery again, at once: a duplicate; the call still runs once.
    st, _, b, *_ = cgi(cfg, body, hdrs)
    t.eq(st, 200, "a redelivery of run_started is a 2xx duplicate")
    release("cgi_gate")
    wait_for(lambda: fake.state(sess["session_id"])["results"], 30, what="the bash result")
    res = list(fake.state(sess["session_id"])["results"].values())
    t.eq([r["content"][0]["text"] for r in res], ["slept"], "the session's call ran once")
    reqs = fake.log()["requests"]
    polls = [r for r in reqs if r["path"].endswith("/work/poll")]
    t.ok(all("reclaim_older_than_ms=2000" in r["query"] and "block_ms" not in r["query"]
             for r in polls), "polls are non-blocking with reclaim_older_than_ms=2000")
    t.ok(all(r["worker_id"] for r in polls), "polls carry Anthropic-Worker-ID")
    t.ok(all(r["version"] == "2026-10-21" for r in reqs), "anthropic-version 2026-10-21 on every call")
    final_checks(t, fake, os.path.join(state, "sandhook.log"))
    log = drainer_log(state)
    t.ok("sk-ant" not in log and "whsec_" not in log, "the drainer log holds no key or token")
finally:
    fake.stop()
t.done()
