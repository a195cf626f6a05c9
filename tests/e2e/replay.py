#!/usr/bin/env python3
"""Capture and replay: every request written raw before verification, the
shipped capture replayed as captured (stale), with --dry-run and with
--resign (a fresh delivery each time), a capture edited by hand (refused as
captured with the reason, replayed with --resign), --help, and a capture
sent again byte for byte to a real nginx."""
import glob
import os
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Scenario, SANDHOOK, TOP, Checks, FcgiPool, Nginx, need_root, sign,
                     final_checks, until, wait_for, write_config)

need_root()
V5_KEY = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
SHIPPED = os.path.join(TOP, "tests", "data", "run_started.http")
t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    cap = os.path.join(tmp, "captures")
    cfg, state = write_config(tmp, fake.url, ANTHROPIC_WEBHOOK_SIGNING_KEY=V5_KEY,
                              SANDHOOK_CAPTURE_DIR=cap, SANDHOOK_CAPTURE_KEEP_HOURS=1)

    def replay(*args):
        p = subprocess.run([SANDHOOK, "replay", "--config", cfg] + list(args),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout.strip(), p.stderr

    rc, out, err = replay(SHIPPED)
    t.eq(rc, 1, "a stale capture replayed as captured fails")
    t.ok("401 message timestamp too old" in out and "replay with --resign" in out,
         "and says why, and what to do: " + out)

    fake.session([{"tool": "bash", "input": {"command": "echo replayed"}}], id="sesn_01XYZ")
    rc, out, err = replay("--dry-run", "--resign", SHIPPED)
    t.eq(rc, 0, "--dry-run --resign verifies")
    t.ok("202 would drain the work queue (dry run)" in out and "type=session.status_run_started" in out,
         "and parses without claiming: " + out)
    time.sleep(0.5)
    t.eq([w["state"] for w in fake.work()], ["queued"], "nothing was claimed")

    rc, out, err = replay("--resign", SHIPPED)
    t.eq(rc, 0, "--resign replays through the live path: " + out)
    t.ok("drainer started" in out, "and starts the drainer")
    wait_for(lambda: fake.state("sesn_01XYZ")["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "the replayed session")
    t.eq([r["content"][0]["text"] for r in fake.state("sesn_01XYZ")["results"].values()],
         ["replayed"], "the replayed delivery's session ran")
    rc, out, err = replay("--resign", SHIPPED)
    t.ok(rc == 0 and ": 202 " in out and "_replay_" in out,
         "replaying it again with --resign is a fresh delivery, never a duplicate: " + out)

    # A capture edited by hand: another session, and the newline an editor
    # adds at the end.
    other = fake.session([{"tool": "bash", "input": {"command": "echo edited"}}])["session_id"]
    edited = os.path.join(tmp, "edited.http")
    raw_shipped = open(SHIPPED, "rb").read()
    open(edited, "wb").write(raw_shipped.replace(b"sesn_01XYZ", other.encode()) + b"\n")
    rc, out, err = replay(edited)
    t.ok(rc == 1 and ": 400 the body is" in out and "longer than its Content-Length" in out and
         "--resign" in out, "an edited body replayed as captured is a 400 that says which is longer: " + out)
    rc, out, err = replay("--resign", edited)
    t.ok(rc == 0 and ": 202 " in out, "with --resign it replays: " + out)
    t.ok(until(lambda: [r["content"][0]["text"] for r in fake.state(other)["results"].values()] == ["edited"],
               30, 0.1), "and the session it names runs")
    for args in (["replay", "--help"], ["drain", "--help"], ["--help"]):
        p = subprocess.run([SANDHOOK] + args, capture_output=True, text=True, timeout=10)
        t.ok(p.returncode == 0 and p.stdout.startswith("usage: sandhook"),
             "sandhook %s prints its usage and exits 0" % " ".join(args))
    t.eq(os.listdir(cap) if os.path.isdir(cap) else [], [], "replays are not captured again")

    # Live requests through nginx are captured raw, before verification.
    pool = sc.add(FcgiPool(tmp, cfg))
    web = sc.add(Nginx(tmp, pool.sock))
    body = b'{"type":"event","id":"whe_cap_1","created_at":"x","data":{"type":"session.status_idled","id":"s"}}'
    hdrs = dict(sign(body, "whe_cap_1", key=V5_KEY), **{"Content-Type": "application/json"})
    st, _, _, _ = web.post("/hooks/sandhook", body, hdrs)
    t.eq(st, 200, "a signed delivery through nginx")
    st, _, _, _ = web.post("/hooks/sandhook", b'{"forged":1}', {"webhook-id": "whe_forged"})
    t.eq(st, 400, "a forged one is rejected")
    files = sorted(glob.glob(os.path.join(cap, "*.http")))
    t.eq(len(files), 2, "both requests were captured, the rejected one too")
    raw = open(files[0], "rb").read()
    head, _, got_body = raw.partition(b"\r\n\r\n")
    t.ok(head.startswith(b"POST /hooks/sandhook HTTP/1.1\r\n"), "a request line")
    t.ok(b"\r\nwebhook-id: whe_cap_1\r\n" in head and b"\r\nwebhook-signature: v1," in head,
         "the webhook headers, CRLF-terminated")
    t.eq(got_body, body, "the exact body")
    t.eq(stat.S_IMODE(os.stat(files[0]).st_mode), 0o600, "readable by the owner only")
    t.eq(stat.S_IMODE(os.stat(cap).st_mode), 0o700, "in a directory only the owner enters")

    # The capture is a valid request: sent again as raw bytes, nginx and
    # sandhook see the same delivery (a duplicate now).
    s = socket.create_connection(("127.0.0.1", web.port), 5)
    line, _, rest = raw.partition(b"\r\n")
    rest = b"".join(l + b"\r\n" for l in rest.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                    if not l.lower().startswith(b"connection:")) + b"\r\n" + got_body
    s.sendall(line + b"\r\nConnection: close\r\n" + rest)
    resp = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
    s.close()
    t.ok(resp.startswith(b"HTTP/1.1 200") and b"duplicate" in resp,
         "the capture sent again with a raw socket is the same delivery: %r" % resp)
    rc, out, err = replay(files[0])
    t.ok(rc == 0 and "200 duplicate delivery" in out, "and sandhook replay agrees: " + out)

    # Captures older than SANDHOOK_CAPTURE_KEEP_HOURS are swept.
    old = os.path.join(cap, "0-old.http")
    open(old, "wb").write(raw)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    if os.path.exists(os.path.join(cap, ".sweep")):
        os.utime(os.path.join(cap, ".sweep"), (time.time() - 120, time.time() - 120))
    web.post("/hooks/sandhook", body, hdrs)
    t.ok(not os.path.exists(old), "a capture past its keep time is swept")
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgi.err"))
t.done()
