#!/usr/bin/env python3
"""One session fills every writable place it has; another session on the
same host keeps working.  Through the real path (fake control plane ->
nginx -> FastCGI responder -> drainer -> jail), with the state directory on
a filesystem of its own, small enough that an uncapped /mnt/memory could
fill it.

/workspace is an image whose blocks are allocated when it is made, and the
memory stores live in an image of SANDHOOK_MEMORY_MB: the filling session
runs out of room in each of its places (ENOSPC inside the jail) and, while
it is still running and holding all it wrote, the state filesystem keeps
its free space and the other session, started before, writes its workspace
and its memory store as before.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (Checks, FcgiPool, Nginx, Scenario, final_checks, gated, need_root, release,
                     run_started, skip, tagged, until, write_config)

need_root()
if not os.path.exists("/dev/loop-control"):
    skip("no loop devices here: the workspace and memory caps need them")
t = Checks()

FILL = ("for d in /workspace /mnt/memory/notes /tmp; do "
        "dd if=/dev/zero of=$d/fill bs=1M count=400 2>&1 | grep -o 'No space left on device' | head -1; "
        "done; echo filled")
# Holds the filling session's work item open, all it wrote in place, until
# the test lets it go.
HOLD = gated("starve_hold", "released")


def ended(sc, sid):
    return until(lambda: sc.fake.state(sid)["status"] in ("terminated", "idle") and
                 all(w["state"] == "stopped" for w in sc.fake.work() if w["data"]["id"] == sid), 180, 0.2)


with Scenario() as sc:
    state = os.path.join(sc.tmp, "state")
    os.makedirs(state)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300m,mode=0700", "tmpfs", state], check=True)
    try:
        cfg, _ = write_config(sc.tmp, sc.fake.url, SANDHOOK_WORKSPACE_MB=48, SANDHOOK_MEMORY_MB=16,
                              SANDHOOK_LIMIT_TMP_MB=16, SANDHOOK_IDLE_TIMEOUT_MS=2000)
        pool = sc.add(FcgiPool(sc.tmp, cfg))
        web = sc.add(Nginx(sc.tmp, pool.sock))

        def run(sid):
            body, hdrs = run_started(sid)
            return web.post("/hooks/sandhook", body, hdrs)[0]

        def store():
            return sc.fake.call("POST", "/_fake/memory_stores", {"memories": {"/a.md": "a"}})["memory_store_id"]

        def notes(sid_store):
            return [{"type": "memory_store", "memory_store_id": sid_store, "name": "notes",
                     "access": "read_write", "mount_path": "/mnt/memory/notes"}]

        b_store = store()
        b = sc.fake.session([{"tool": "bash", "input": {"command": "echo before > /workspace/b.txt && "
                                                                   "echo ok"}}],
                            resources=notes(b_store), terminate=False)["session_id"]
        t.eq(run(b), 202, "the second session starts first")
        t.ok(ended(sc, b), "and goes idle with its workspace made")

        a = sc.fake.session([{"tool": "bash", "input": {"command": FILL}},
                             {"tool": "bash", "input": {"command": HOLD}}],
                            resources=notes(store()))["session_id"]
        t.eq(run(a), 202, "the filling session starts")
        t.ok(until(lambda: len(sc.fake.state(a)["results"]) == 1, 180, 0.2), "and has filled its places")
        res = [r["content"][0]["text"] for r in sc.fake.state(a)["results"].values()]
        t.eq(res, ["No space left on device\n" * 3 + "filled"],
             "the workspace, /mnt/memory and /tmp each ran out of room inside the jail")
        t.ok(until(lambda: tagged("starve_hold"), 60, 0.2), "and holds its work item open")
        st = os.statvfs(state)
        free_mb = st.f_bavail * st.f_frsize >> 20
        t.ok(free_mb >= 150, "while it runs, the state filesystem kept its free space (%d MiB free of 300)"
             % free_mb)

        sc.fake.session([{"tool": "bash", "input": {"command":
                          "cat /workspace/b.txt && dd if=/dev/urandom of=/workspace/big bs=1M count=20 "
                          "2>/dev/null && sync && cmp <(head -c 20971520 /workspace/big) /workspace/big && "
                          "echo after > /mnt/memory/notes/b.md && echo ok"}}],
                        id=b, resources=notes(b_store))
        t.eq(run(b), 202, "the second session continues")
        t.ok(ended(sc, b), "and its new work item ends")
        res = [r["content"][0]["text"] for r in sc.fake.state(b)["results"].values()]
        t.eq(res[-1], "before\nok", "it wrote 20 MiB to its workspace and a file to its memory store")
        t.ok(until(lambda: sc.fake.call("GET", "/_fake/memory_stores/" + b_store)["memories"].get("/b.md")
                   == "after\n", 30), "and its memory store was synced")
        release("starve_hold")
        t.ok(ended(sc, a), "the filling session, let go, ends")
        log = open(os.path.join(state, "sandhook.log")).read()
        t.ok("I/O error" not in log and "remount-ro" not in log, "no I/O error anywhere")
        final_checks(t, sc.fake, os.path.join(state, "sandhook.log"), os.path.join(sc.tmp, "fcgi.err"))
    finally:
        for server in reversed(sc.servers):
            server.stop()
        sc.servers = []
        subprocess.run(["umount", "-l", state])
t.done()
