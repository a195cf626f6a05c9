#!/usr/bin/env python3
"""The escape suite at the end of a session: the agent races the host's
cleanup of the trees it could write.

Through the real path (fake control plane -> nginx -> FastCGI responder ->
drainer -> jail), a session leaves a background process that keeps swapping
its directories for symlinks to a root-only directory on the host, then the
session terminates.  The drainer must end every process of the jail before
it touches the session's directory, and remove that directory without ever
resolving a path inside it: the victim files survive, the tree is gone.
Once with the image workspace and a read-write memory store (the store is
the tree the agent writes on the host), once with a directory workspace.
"""
import base64
import os
import stat
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (Checks, FcgiPool, Nginx, Scenario, final_checks, need_root, run_started,
                     until, wait_for, write_config)

need_root()
t = Checks()

DIRS, FILES = 16, 300

# Inside the jail: watch each directory for the host's open of it, and the
# moment it is opened swap it for a link to the victim, so a walk that
# lists the real directory then removes its entries through the link.
WATCHER = r"""
import ctypes, os, struct, sys
top, victim, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
wd = {libc.inotify_add_watch(fd, ("%s/d%d" % (top, i)).encode(), 0x20): i for i in range(1, n + 1)}
print("watching", len(wd), flush=True)
while True:
    buf = os.read(fd, 65536)
    off = 0
    while off < len(buf):
        w, mask, cookie, ln = struct.unpack_from("iIII", buf, off)
        off += 16 + ln
        i = wd.get(w)
        if i:
            try:
                os.rename("%s/d%d" % (top, i), "%s/e%d" % (top, i))
                os.symlink(victim, "%s/d%d" % (top, i))
            except OSError:
                pass
"""


def swapper(top, victim):
    """Builds DIRS directories of FILES files below top, then leaves the
    watcher running in the background."""
    code = base64.b64encode(WATCHER.encode()).decode()
    cmd = ("mkdir -p {t}/race && cd {t}/race && for i in $(seq {n}); do mkdir d$i && "
           "(cd d$i && touch f{{1..{f}}}); done && echo {c} | base64 -d > /tmp/watch.py && "
           "(setsid python3 /tmp/watch.py {t}/race {v} {n} </dev/null >/tmp/watch.out 2>&1 &) && "
           "sleep 0.5 && cat /tmp/watch.out && echo racing").format(t=top, n=DIRS, f=FILES, c=code, v=victim)
    return {"tool": "bash", "input": {"command": cmd}}


def run(sc, name, **settings):
    tmp = os.path.join(sc.tmp, name)
    os.makedirs(tmp)
    # A root-only directory outside everything sandhook owns.
    victim = os.path.join(tmp, "victim")
    os.mkdir(victim, 0o700)
    names = ["f%d" % j for j in range(1, FILES + 1)]
    for n in names:
        fd = os.open(os.path.join(victim, n), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"root only")
        os.close(fd)
    cfg, state = write_config(tmp, sc.fake.url, SANDHOOK_IDLE_TIMEOUT_MS=0, **settings)
    pool = sc.add(FcgiPool(tmp, cfg))
    web = sc.add(Nginx(tmp, pool.sock))
    resources = []
    script = [swapper("/workspace", victim)]
    if settings.get("SANDHOOK_WORKSPACE_MB", 1):
        store = sc.fake.call("POST", "/_fake/memory_stores", {"memories": {"/a.md": "a"}})["memory_store_id"]
        resources = [{"type": "memory_store", "memory_store_id": store, "mount_path": "/mnt/memory/notes",
                      "access": "read_write", "name": "notes"}]
        script = [swapper("/mnt/memory/notes", victim), swapper("/workspace", victim)]
    # Let the swappers run a while before the end comes.
    script.append({"tool": "bash", "input": {"command": "ls /workspace/race | wc -l"}})
    sid = sc.fake.session(script, resources=resources, end_delay=0.5)["session_id"]
    body, hdrs = run_started(sid)
    st, _ = web.post("/hooks/sandhook", body, hdrs)[:2]
    t.eq(st, 202, "%s: run_started accepted through nginx" % name)
    wait_for(lambda: sc.fake.state(sid)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in sc.fake.work()), 120, 0.1, "the racing session")
    res = sc.fake.state(sid)["results"]
    t.ok(sum("watching %d\nracing" % DIRS in r["content"][0]["text"] for r in res.values()) == len(script) - 1,
         "%s: the swappers were started" % name, repr(res))
    sdir = os.path.join(state, "sessions", sid)
    t.ok(until(lambda: not os.path.exists(sdir), 60), "%s: the session's tree is gone" % name,
         repr(list(os.walk(sdir)))[:2000])
    left = sorted(n for n in names if not os.path.exists(os.path.join(victim, n)))
    t.eq(left, [], "%s: every root-only file outside survived the teardown" % name)
    t.eq(stat.S_IMODE(os.stat(victim).st_mode), 0o700, "%s: the victim directory is untouched" % name)
    t.ok(subprocess.run(["pgrep", "-f", "/tmp/watch.py"], capture_output=True).returncode == 1,
         "%s: no process of the jail outlived it" % name)
    log = os.path.join(state, "sandhook.log")
    t.ok("workspace_remove_failed" not in open(log).read(), "%s: the removal reported no failure" % name)
    final_checks(t, sc.fake, log, os.path.join(tmp, "fcgi.err"))


with Scenario() as sc:
    run(sc, "image", SANDHOOK_WORKSPACE_MB=48)
    run(sc, "directory", SANDHOOK_WORKSPACE_MB=0)
t.done()
