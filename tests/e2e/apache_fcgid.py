#!/usr/bin/env python3
"""Behind a real Apache with mod_fcgid and the shipped example: Apache
starts sandhook as its own user when a webhook comes, retires it when idle,
and starts it again for the next one.  Run as Apache's user, sandhook builds
its jail without root; everything check_front_server asks still holds, and
so do memory stores and egress through the allowlist."""
import os
import threading
import pwd
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SANDHOOK, Scenario, Apache, Checks, check_front_server, final_checks,
                     give_to, need_root, procs_of, until, run_started, serve_origin, wait_for,
                     write_config)

need_root()       # to start Apache, which then drops to nobody
NOBODY = pwd.getpwnam("nobody")


def responders():
    """sandhook processes whose parent is Apache: its responders, not the
    detached drainers they start."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/exe" % pid) != os.path.realpath(SANDHOOK):
                continue
            ppid = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1]
            if os.readlink("/proc/%s/exe" % ppid).endswith("/apache2"):
                out.append((int(pid), os.stat("/proc/" + pid).st_uid))
        except OSError:
            pass
    return out


t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    # As the README says for mod_fcgid: it runs the pool.
    cfg, state = write_config(tmp, fake.url, SANDHOOK_FCGI_WORKERS=1)
    ipc = os.path.join(tmp, "fcgid")
    os.makedirs(ipc)
    give_to(NOBODY, cfg, state, ipc)
    web = sc.add(Apache(
        tmp, "sandhook-fcgid.conf",
        {"/etc/sandhook/sandhook.conf": cfg,
         "FcgidIdleTimeout 60": "FcgidIdleTimeout 3"},
        ["alias", "rewrite", "fcgid"],
        "FcgidIPCDir %s\nFcgidProcessTableFile %s/table\nFcgidIdleScanInterval 1" % (ipc, ipc)))

    t.eq(responders(), [], "no sandhook responder runs before the first webhook")
    # Apache retires an idle responder after 3 s, which a busy machine can
    # spend on the checks below: record every responder seen while they
    # run, rather than look once after them.
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            seen.update(responders())
            stop.wait(0.05)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        check_front_server(t, fake, state, web, "through Apache mod_fcgid")
    finally:
        stop.set()
        watcher.join()
    running = sorted(seen)
    t.ok(running, "Apache started responders on demand (%d seen)" % len(running))
    t.ok(running and all(uid == NOBODY.pw_uid for _, uid in running),
         "as Apache's user, nobody")
    log = open(os.path.join(state, "sandhook.log")).read()
    t.ok("reason=unprivileged fallback=directory" in log,
         "the jail was built without root (no workspace image)")
    t.ok(until(lambda: responders() == [], 30, 0.5), "Apache retired the idle responders")

    # Memory stores work without root too, the read-only one read-only.
    rw = fake.call("POST", "/_fake/memory_stores", {"memories": {"/a.md": "alpha"}})["memory_store_id"]
    ro = fake.call("POST", "/_fake/memory_stores", {"memories": {"/r.md": "ro"}})["memory_store_id"]
    stores = [{"type": "memory_store", "memory_store_id": rw, "mount_path": "/mnt/memory/rw"},
              {"type": "memory_store", "memory_store_id": ro, "mount_path": "/mnt/memory/ro",
               "access": "read_only"}]
    sid = fake.session([{"tool": "bash", "input": {
        "command": "touch f; stat -c %u:%g f; id -u; echo b > /mnt/memory/rw/a.md; "
                   "{ echo x > /mnt/memory/ro/r.md; } 2>/dev/null || echo read-only"}}],
        resources=stores)["session_id"]
    body, hdrs = run_started(sid)
    st, _, _, _ = web.post("/hooks/sandhook", body, hdrs)
    t.eq(st, 202, "the next webhook starts a responder again")
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 30, 0.1, "the session")
    t.eq([r["content"][0]["text"] for r in fake.state(sid)["results"].values()],
         ["65534:65534\n65534\nread-only"],
         "and its session ran in the jail as the jail uid and gid, a read-only store read-only")
    t.eq([fake.call("GET", "/_fake/memory_stores/" + i)["memories"] for i in (rw, ro)],
         [{"/a.md": "b\n"}, {"/r.md": "ro"}], "and the memory edit was synced back")

    # Egress through the allowlist, the proxy started by a drainer Apache's
    # responder started, everything as nobody.  Settings are read when a
    # part starts: once this state's drainer is gone, the next one reads them.
    origin = serve_origin()
    port = origin.server_address[1]
    t.ok(until(lambda: not procs_of(state, b"sandhook-drain"), 60, 0.1), "the drainer ended")
    write_config(tmp, fake.url, SANDHOOK_FCGI_WORKERS=1, SANDHOOK_JAIL_NETWORK="allowlist",
                 SANDHOOK_EGRESS_ALLOW="pypi.test:%d" % port,
                 SANDHOOK_EGRESS_RESOLVE="pypi.test=127.0.0.1,evil.test=127.0.0.1")
    sid = fake.session([{"tool": "bash", "input": {"command": c}} for c in (
        "curl -sS http://pypi.test:%d/simple/" % port, "curl -sS http://evil.test:%d/" % port)])["session_id"]
    body, hdrs = run_started(sid)
    st, _, _, _ = web.post("/hooks/sandhook", body, hdrs)
    wait_for(lambda: fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 60, 0.1, "the egress session")
    got = [r["content"][0]["text"] for r in fake.state(sid)["results"].values()]
    t.ok(st == 202 and len(got) == 2 and "origin says hello: Host=pypi.test" in got[0],
         "with SANDHOOK_JAIL_NETWORK=allowlist under mod_fcgid, a listed host is reached through the proxy", got)
    t.ok(len(got) == 2 and "evil.test:%d refused: no SANDHOOK_EGRESS_ALLOW entry matches it" % port in got[1],
         "  ...and one not listed is refused, with the reason", got)
    origin.shutdown()
    final_checks(t, fake, os.path.join(state, "sandhook.log"), web.error_log)
t.done()
