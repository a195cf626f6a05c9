#!/usr/bin/env python3
"""The escape suite for memory stores, through the real path (fake control
plane -> nginx -> FastCGI responder -> drainer -> jail).

- An agent process keeps swapping a memory file for a FIFO: the jail's PID
  1, which reads memory files for the drainer, must never block on it (each
  read checks the open descriptor, non-blocking), so no memory operation
  runs into its wall time and every call is answered.
- A store with more files than SANDHOOK_MEMORY_MAX_FILES: the drainer keeps
  no state past the cap, says so in the log, and the session goes on.
- Two stores at one folder written two ways (a/b, a//b), or one inside
  another: refused, nothing runs.
- A store with neither a mount_path nor a usable name, whose id is not a
  folder name ("../x"): refused before anything is created, with the reason.
"""
import base64
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (Checks, FcgiPool, Nginx, Scenario, final_checks, need_root, run_started,
                     until, write_config)

need_root()
t = Checks()

# The moment the jail's PID 1 opens the first memory file for the drainer,
# every other one becomes a FIFO; two seconds later they are files again.
WATCHER = r"""
import ctypes, os, struct, time
d = "/mnt/memory/notes"
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
if fd < 0 or libc.inotify_add_watch(fd, d.encode(), 0x20) < 0:
    print("inotify failed: errno %d" % ctypes.get_errno(), flush=True)
    raise SystemExit(1)
for n in os.listdir(d):
    if n.endswith(".md"):
        os.utime(os.path.join(d, n))
print("watching", flush=True)
while True:
    buf = os.read(fd, 65536)
    name = buf[16:].split(b"\0")[0].decode()
    if name.endswith(".md"):
        break
print("PID 1 opened", name, flush=True)
names = [n for n in os.listdir(d) if n.endswith(".md") and n != name]
for n in names:
    os.rename(os.path.join(d, n), os.path.join(d, n + ".t"))
    os.mkfifo(os.path.join(d, n))
open("/tmp/swapped", "w").write("%d" % len(names))
time.sleep(2)
for n in names:
    os.unlink(os.path.join(d, n))
    os.rename(os.path.join(d, n + ".t"), os.path.join(d, n))
"""
SWAP = ("echo %s | base64 -d > /tmp/w.py && (setsid python3 /tmp/w.py </dev/null >/tmp/w.out 2>&1 &) && "
        "sleep 0.5 && cat /tmp/w.out" % base64.b64encode(WATCHER.encode()).decode())


def ended(sc, sid):
    return until(lambda: sc.fake.state(sid)["status"] == "terminated" and
                 all(w["state"] == "stopped" for w in sc.fake.work()), 240, 0.2)


with Scenario() as sc:
    cfg, state = write_config(sc.tmp, sc.fake.url, SANDHOOK_WORKSPACE_MB=0, SANDHOOK_MEMORY_SYNC_SECONDS=5,
                              SANDHOOK_MEMORY_MAX_FILES=40)
    pool = sc.add(FcgiPool(sc.tmp, cfg))
    web = sc.add(Nginx(sc.tmp, pool.sock))
    log = os.path.join(state, "sandhook.log")

    store = sc.fake.call("POST", "/_fake/memory_stores",
                         {"memories": {"/f%d.md" % i: "f" * 100000 for i in range(1, 31)}})["memory_store_id"]
    many = sc.fake.call("POST", "/_fake/memory_stores", {"memories": {"/m.md": "m"}})["memory_store_id"]
    script = [{"tool": "bash", "input": {"command": SWAP}}]
    script += [{"tool": "bash", "input": {"command": "sleep 5.5; echo slept %d" % i}} for i in range(4)]
    # What the watcher saw, when it swapped nothing.
    script += [{"tool": "bash", "input": {"command": "cat /tmp/swapped 2>/dev/null || cat /tmp/w.out"}}]
    script += [{"tool": "bash", "input": {"command": "cd /mnt/memory/many && for i in $(seq 50); do "
                                                     "echo $i > n$i.md; done; ls | wc -l"}},
               {"tool": "bash", "input": {"command": "sleep 5.5; echo slept after"}}]
    sid = sc.fake.session(script, resources=[{"type": "memory_store", "memory_store_id": store,
                                              "name": "notes", "access": "read_write",
                                              "mount_path": "/mnt/memory/notes"},
                                             {"type": "memory_store", "memory_store_id": many,
                                              "name": "many", "access": "read_write"}])["session_id"]
    body, hdrs = run_started(sid)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "run_started accepted through nginx")
    t.ok(ended(sc, sid), "the session with the FIFO swapper ended")
    res = [r["content"][0]["text"] for r in sc.fake.state(sid)["results"].values()]
    t.eq(res[:5], ["watching"] + ["slept %d" % i for i in range(4)],
         "every call during the swapping was answered")
    t.ok(res[5] == "29", "the watcher swapped 29 files for FIFOs while PID 1 read them",
         (res[5], "\n".join(l for l in open(log).read().splitlines() if "memory_" in l)[-1500:]))
    text = open(log).read()
    t.ok("event=memory_sandbox_failed" not in text,
         "no memory operation blocked on a FIFO swapped in (none ran into its wall time)")
    t.ok(res[-1] == "slept after" and "event=memory_state_full" in text and "files=40" in text,
         "past SANDHOOK_MEMORY_MAX_FILES the drainer keeps no more state, and says so",
         "\n".join(l for l in text.splitlines() if "memory_" in l)[-1500:])
    t.ok(not until(lambda: "/n1.md" in sc.fake.call("GET", "/_fake/memory_stores/" + many)["memories"], 1),
         "and that store is not synced past the cap")

    # An id that is not a folder name, with no mount_path and no name.
    sid2 = sc.fake.session([{"tool": "bash", "input": {"command": "echo never"}}],
                           resources=[{"type": "memory_store", "memory_store_id": "../x",
                                       "access": "read_write"}])["session_id"]
    body, hdrs = run_started(sid2)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "a session with a store id '../x' accepted")
    t.ok(until(lambda: all(w["state"] == "stopped" for w in sc.fake.work()), 60, 0.2),
         "and its item stopped")
    t.eq(sc.fake.state(sid2)["results"], {}, "nothing ran")
    text = open(log).read()
    t.ok("neither its name nor its id can be a folder" in text and "memory_store_id=../x" in text,
         "the reason is logged", "\n".join(l for l in text.splitlines() if "memory_unavailable" in l))
    t.ok(not os.path.exists(os.path.join(state, "sessions", "x")) and
         not os.path.exists(os.path.join(state, "sessions", sid2, "x")), "no folder was made for it")

    # Two stores whose folders are one, written two ways; and a store
    # inside another.
    def refused(mounts, why, what):
        stores = [sc.fake.call("POST", "/_fake/memory_stores", {"memories": {}})["memory_store_id"]
                  for _ in mounts]
        sid = sc.fake.session([{"tool": "bash", "input": {"command": "echo never"}}],
                              resources=[{"type": "memory_store", "memory_store_id": st, "mount_path": m,
                                          "access": "read_write"} for st, m in zip(stores, mounts)]
                              )["session_id"]
        body, hdrs = run_started(sid)
        t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "%s: accepted" % what)
        t.ok(until(lambda: all(w["state"] == "stopped" for w in sc.fake.work()), 60, 0.2),
             "%s: its item stopped" % what)
        t.eq(sc.fake.state(sid)["results"], {}, "%s: nothing ran" % what)
        lines = [l for l in open(log).read().splitlines() if "memory_unavailable" in l and why in l]
        t.ok(lines, "%s: the reason is logged" % what)

    refused(["/mnt/memory/a/b", "/mnt/memory/a//b"], "not a clean absolute path", "a/b and a//b")
    refused(["/mnt/memory/a", "/mnt/memory/a/b"], "overlap", "a store inside another")
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
