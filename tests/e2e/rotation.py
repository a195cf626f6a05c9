#!/usr/bin/env python3
"""Keys change without downtime: during a rotation the FastCGI responder
accepts deliveries signed with the new key and with the previous one
(SANDHOOK_WEBHOOK_SIGNING_KEY_PREVIOUS), says in its log which one verified,
and SIGHUP makes it reread its settings between requests, in the same
process.  Settings that would not work are refused by the reload, which
keeps serving with the ones it had.  CGI reads them per request.
"""
import base64
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SIGNING_KEY, Checks, FcgiPool, Scenario, cgi, children, delivery,  # noqa: E402
                     sanitizer_clean, sign, wait_for, write_config)

WORKERS = 2             # a pool, whatever the machine: every worker must take the reload

NEW_KEY = "whsec_" + base64.b64encode(os.urandom(32)).decode()
OTHER_KEY = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def idled(key, *more_keys):
    """A session.status_idled delivery (nothing to drain) signed with key,
    and with more_keys too, as a sender mid-rotation may sign."""
    body, h = delivery("session.status_idled", "sesn_rot", key=key)
    msg = h["webhook-id"]
    for k in more_keys:
        h["webhook-signature"] += " " + sign(body, msg, key=k)["webhook-signature"]
    return body, h, msg


def main():
    t = Checks()
    with Scenario() as sc:
        cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_FCGI_WORKERS=WORKERS)
        pool = sc.add(FcgiPool(sc.tmp, cfg))
        err_log = os.path.join(sc.tmp, "fcgi.err")
        pid = pool.proc.pid
        wait_for(lambda: len(children(pid)) == WORKERS, 20, what="the pool's workers")
        workers = children(pid)

        def log():
            return open(err_log, errors="replace").read()

        def accepted_with(msg):
            return [ln for ln in log().splitlines()
                    if "event=webhook_accepted" in ln and "webhook_id=%s" % msg in ln]

        def post(key, *more):
            body, h, msg = idled(key, *more)
            return pool.post(body, h)[0], msg

        def reload(what, refused=False):
            # The master rereads, and forwards the signal to each worker
            # when it took the settings.
            n = log().count("event=config_re")
            os.kill(pid, signal.SIGHUP)
            wait_for(lambda: log().count("event=config_re") >= n + 1 + (0 if refused else WORKERS), 20,
                     what=what)

        t.eq(post(SIGNING_KEY)[0], 200, "before the rotation: the configured key verifies")
        t.eq(post(NEW_KEY)[0], 401, "and the new key does not yet")

        write_config(sc.tmp, sc.fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY=NEW_KEY,
                     SANDHOOK_WEBHOOK_SIGNING_KEY_PREVIOUS=SIGNING_KEY, SANDHOOK_FCGI_WORKERS=WORKERS)
        reload("the reload after SIGHUP")
        t.ok("event=config_reloaded" in log() and "signing_keys=2" in log(),
             "SIGHUP: the settings are reread, with two signing keys", log()[-600:])
        t.ok(pool.proc.poll() is None, "the same responder process still serves (no restart)")
        status, msg = post(NEW_KEY)
        t.eq(status, 200, "mid-rotation: the new key verifies")
        t.ok(any("signing_key=current" in ln for ln in accepted_with(msg)),
             "  ...and its log line says signing_key=current", accepted_with(msg))
        status, msg = post(SIGNING_KEY)
        t.eq(status, 200, "mid-rotation: the previous key still verifies")
        t.ok(any("signing_key=previous" in ln for ln in accepted_with(msg)),
             "  ...and its log line says signing_key=previous, so the operator sees when it is unused",
             accepted_with(msg))
        t.eq(post(OTHER_KEY, NEW_KEY)[0], 200,
             "a signature header with an unknown key's entry and the new key's verifies")
        t.eq(post(OTHER_KEY)[0], 401, "a key that is neither is refused")

        # CGI: the same rotation, read from the same file for each request.
        body, h, _ = idled(SIGNING_KEY)
        t.eq(cgi(cfg, body, h)[0], 200, "CGI mid-rotation: the previous key verifies")
        body, h, _ = idled(OTHER_KEY)
        t.eq(cgi(cfg, body, h)[0], 401, "CGI mid-rotation: an unknown key is refused")

        # A reload that would not work is refused; the responder keeps its keys.
        write_config(sc.tmp, sc.fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY=NEW_KEY,
                     SANDHOOK_WEBHOOK_SIGNING_KEY_PREVIOUS="whsec_not*base64", SANDHOOK_FCGI_WORKERS=WORKERS)
        reload("the refused reload", refused=True)
        t.ok("event=config_reload_failed" in log() and
             "SANDHOOK_WEBHOOK_SIGNING_KEY_PREVIOUS does not decode" in log() and
             "still serving with the settings loaded before" in log(),
             "a previous key that does not decode: the reload is refused, and says why", log()[-800:])
        t.eq(post(SIGNING_KEY)[0], 200, "  ...and the responder keeps serving with both keys")
        write_config(sc.tmp, sc.fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY="", SANDHOOK_FCGI_WORKERS=WORKERS)
        reload("the second refused reload", refused=True)
        t.ok("ANTHROPIC_WEBHOOK_SIGNING_KEY is empty" in log(),
             "an emptied signing key: the reload is refused with the setting's name", log()[-800:])
        t.eq(post(NEW_KEY)[0], 200, "  ...and deliveries are still verified, not refused with 503")

        # The rotation ends: the previous key goes.
        write_config(sc.tmp, sc.fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY=NEW_KEY, SANDHOOK_FCGI_WORKERS=WORKERS)
        reload("the reload that ends the rotation")
        # Every worker has logged the last reload, so a refused one it was
        # sent would be in the log by now.
        t.eq(log().count("event=config_reload_failed"), 2,
             "each refused reload is logged once, by the master, not again by each of %d workers" % WORKERS)
        t.eq(post(SIGNING_KEY)[0], 401, "after the rotation: the previous key is refused")
        t.eq(post(NEW_KEY)[0], 200, "and the new key verifies")
        t.ok(pool.proc.poll() is None and children(pid) == workers,
             "the pool's master and its %d workers served every request across four SIGHUPs: "
             "no restart" % WORKERS, (workers, children(pid)))
        secrets = [k[len("whsec_"):] for k in (SIGNING_KEY, NEW_KEY)]
        t.ok(not any(s in log() for s in secrets), "no signing key in the log")
        t.eq(sc.fake.work(), [], "no work item was claimed (idled events drain nothing)")
        sanitizer_clean(t, err_log)
    t.done()


if __name__ == "__main__":
    main()
