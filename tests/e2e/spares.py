#!/usr/bin/env python3
"""Workspace images made ahead (SANDHOOK_WORKSPACE_SPARES).

A drainer leaves a formatted image in STATE/spares when it exits, and an
ended session's image, reset in place, becomes one; the next session takes
it (no mkfs.ext4 and no fallocate on its way to the first call) and finds
it empty; a change of SANDHOOK_WORKSPACE_MB retires the spares of the old
size; SANDHOOK_WORKSPACE_SPARES=0 removes them.
"""
import filecmp
import os
import re
import stat
import subprocess

from harness import (Checks, Scenario, cgi, drainer_log, gated, need_root, release, run_started, skip,
                     tagged, until, wait_for, write_config)

need_root()
if not os.path.exists("/dev/loop-control") or not any(
        os.access(p, os.X_OK) for p in ("/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4")):
    skip("workspace images need /dev/loop-control and mkfs.ext4 (apt-get install e2fsprogs)")

t = Checks()


def settled(state, exits):
    """More than exits drainers have exited, and every drainer that started
    has (a drainer's process title hides its argv, so count its lines: each
    logs drain_started, or drain_slots_busy, and then drain_exit)."""
    log = drainer_log(state)
    n = log.count("event=drain_exit")
    return n > exits and n == log.count("event=drain_started") + log.count("event=drain_slots_busy")


def spares(state):
    d = os.path.join(state, "spares")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def flag(dev, name):
    try:
        with open("/sys/block/%s/loop/%s" % (dev, name)) as f:
            return f.read().strip()
    except OSError:
        return None


def loops_on(state):
    """The loop devices backed by an image under the state directory."""
    return [d for d in sorted(os.listdir("/sys/block"))
            if (flag(d, "backing_file") or "").startswith(state + "/")]


with Scenario() as sc:
    def run(cfg, state, command, during=None):
        """One session of one bash call, through CGI; its output, once its
        drainer has exited (spares are made on the way out).  A command
        gated as "run" lets during(sid) look at the session first."""
        sid = sc.fake.session([{"tool": "bash", "input": {"command": command}}],
                              first_delay=0, end_delay=0)["session_id"]
        exits = drainer_log(state).count("event=drain_exit")
        body, hdrs = run_started(sid)
        t.eq(cgi(cfg, body, hdrs)[0], 202, "run_started answered 202")
        if during:
            wait_for(lambda: tagged("run"), 60, 0.05, "session's call")
            during(sid)
            release("run")
        done = until(lambda: settled(state, exits), 60, 0.05)
        results = list(sc.fake.state(sid)["results"].values())
        return sid, done and results and results[0]["content"][0]["text"]

    def lines(state, sid, event):
        return [ln for ln in drainer_log(state).splitlines()
                if "event=%s" % event in ln and "session_id=%s" % sid in ln]

    settings = dict(SANDHOOK_WORKSPACE_MB=32, SANDHOOK_WORKSPACE_SPARES=1, SANDHOOK_DEBUG=1,
                    SANDHOOK_IDLE_TIMEOUT_MS=300)
    cfg, state = write_config(sc.tmp, sc.fake.url, **settings)
    inode = {}
    a, out = run(cfg, state, "head -c 4000000 /dev/urandom | base64 > /workspace/a.txt; echo sec''ret-of-A"
                 " > /workspace/b.txt; sync; " + gated("run", "written"),
                 lambda sid: inode.update(a=os.stat(os.path.join(state, "sessions", sid, "workspace.img")).st_ino))
    t.eq(out, "written", "session A wrote to its workspace")
    made = spares(state)
    tdir = os.path.join(state, "templates")
    tpath = os.path.join(tdir, "v2-32m-65534-65534.img")
    spare = os.path.join(state, "spares", made[0]) if len(made) == 1 else ""
    t.ok(spare and os.stat(spare).st_ino == inode["a"] and lines(state, a, "session_storage_removed") and
         "workspace=spare" in lines(state, a, "session_storage_removed")[0] and
         "event=workspace_spare_made" not in drainer_log(state),
         "A's image, once A ended, became the spare: neither freed nor another allocated",
         (made, inode, lines(state, a, "session_storage_removed")))
    t.ok(spare and os.stat(spare).st_blocks * 512 >= 32 << 20 and filecmp.cmp(spare, tpath, shallow=False),
         "  ...allocated in full, and byte for byte the template: nothing of A's is left in it")
    t.eq(sorted(os.listdir(tdir)), ["v2-32m-65534-65534.img"],
         "the first image made the one template for its size and ids")
    tpl = os.stat(tpath)
    t.ok(tpl.st_size == 32 << 20 and tpl.st_blocks * 512 < 4 << 20 and tpl.st_uid == 0 and
         stat.S_IMODE(os.stat(tdir).st_mode) == 0o700,
         "  ...a sparse root-only file: what mkfs wrote, no more", (tpl, oct(os.stat(tdir).st_mode)))
    listing = subprocess.run(["debugfs", "-R", "ls /", os.path.join(tdir, "v2-32m-65534-65534.img")],
                             capture_output=True, text=True).stdout
    t.ok("." in listing.split() and "lost+found" not in listing,
         "  ...with no lost+found, so no session's first unmount commits its removal", listing)
    fsck = subprocess.run(["e2fsck", "-fn", spare], capture_output=True, text=True)
    t.eq(fsck.returncode, 0, "  ...and is a clean ext4 filesystem (e2fsck -fn)")
    t.ok(len(made) == 1 and re.fullmatch(r"32m-65534-65534-[0-9a-f]{16}\.img", made[0]),
         "  ...named for its size and the jail ids, the one spare wanted", made)

    b, out = run(cfg, state, "ls -A /workspace")
    t.ok(lines(state, b, "workspace_spare_taken"), "session B took the spare (no mkfs on its way)",
         drainer_log(state)[-1500:])
    t.eq(out, "(no output)", "  ...an empty one: nothing of A's in it")
    t.ok(len(spares(state)) == 1 and spares(state) != made, "  ...and B's image became the next one",
         (made, spares(state)))

    # With two wanted, an ended session leaves one, and the refill at its
    # drainer's exit makes the other.
    cfg, state = write_config(sc.tmp, sc.fake.url, **dict(settings, SANDHOOK_WORKSPACE_SPARES=2))
    b1, out = run(cfg, state, "true")
    t.ok(len(spares(state)) == 2 and "event=workspace_spare_made size_mb=32" in drainer_log(state),
         "with two wanted, the drainer's exit made the one its session did not leave", spares(state))

    # A damaged template would make every image unmountable.  With no
    # spare left, the next session's image is copied from it.
    with open(tpath, "r+b") as f:
        f.seek(1024)
        f.write(b"\0" * 1024)
    for name in spares(state):
        os.unlink(os.path.join(state, "spares", name))
    b0, out = run(cfg, state, "df -m /workspace | tail -1 | awk '{print $2}'")
    log = drainer_log(state)
    made32 = [ln for ln in log.splitlines() if "event=image_template_made" in ln and "size_mb=32" in ln]
    t.ok(out and 24 <= int(out) <= 32 and re.search(r"event=image_template_replaced .*size_mb=32", log) and
         len(made32) == 2,
         "a template whose superblock was wiped is made again, and sessions go on (df: %s MiB)" % out)

    cfg, state = write_config(sc.tmp, sc.fake.url, **dict(settings, SANDHOOK_WORKSPACE_MB=48))
    c, out = run(cfg, state, "df -m /workspace | tail -1 | awk '{print $2}'")
    t.ok(not lines(state, c, "workspace_spare_taken"),
         "with SANDHOOK_WORKSPACE_MB changed, the 32 MiB spare is not taken")
    t.ok(out and 40 <= int(out) <= 48, "  ...session C got a 48 MiB workspace (df says %s MiB)" % out)
    t.ok(len(spares(state)) == 1 and spares(state)[0].startswith("48m-"),
         "  ...and the spare of the old size made way for one of the new", spares(state))

    # Four drainers that end together make one spare between them, not four.
    cfg, state = write_config(sc.tmp, sc.fake.url, **dict(settings, SANDHOOK_WORKSPACE_MB=48,
                                                           SANDHOOK_MAX_SESSIONS=4))
    exits = drainer_log(state).count("event=drain_exit")
    four = [sc.fake.session([{"tool": "bash", "input": {"command": "sleep 0.5"}}], first_delay=0,
                            end_delay=0)["session_id"] for _ in range(4)]
    for sid in four:
        cgi(cfg, *run_started(sid))
    t.ok(until(lambda: all(w["state"] == "stopped" for w in sc.fake.work()) and settled(state, exits), 60, 0.05),
         "four sessions at once ran to their end, and their drainers exited")
    t.ok(len(spares(state)) == 1, "  ...and their drainers, ending together, left one spare between them",
         spares(state))

    # The image's loop device, set up in one call (LOOP_CONFIGURE), goes by
    # itself (autoclear) once the jail's mount is gone.
    sid = sc.fake.session([{"tool": "bash", "input": {"command": gated("loop", "done")}}],
                          first_delay=0, end_delay=0)["session_id"]
    exits = drainer_log(state).count("event=drain_exit")
    cgi(cfg, *run_started(sid))
    wait_for(lambda: loops_on(state), 60, 0.05, "the session's loop device")
    t.eq([flag(d, "autoclear") for d in loops_on(state)], ["1"],
         "a session's workspace is on one loop device, set to detach by itself")
    release("loop")
    t.ok(until(lambda: settled(state, exits), 60, 0.05) and loops_on(state) == [],
         "  ...and once the session ended, no loop device is left on an image of the state directory",
         loops_on(state))

    cfg, state = write_config(sc.tmp, sc.fake.url, **dict(settings, SANDHOOK_WORKSPACE_MB=48,
                                                           SANDHOOK_WORKSPACE_SPARES=0))
    run(cfg, state, "true")
    t.eq(spares(state), [], "SANDHOOK_WORKSPACE_SPARES=0: the spares are removed")
    t.eq(sorted(os.listdir(tdir)), ["v2-48m-65534-65534.img"],
         "  ...and the template of the size no longer set is removed, the one in use kept")
    t.eq(os.listdir(os.path.join(state, "sessions")), [], "every session's storage went with its end")

    # A state directory moved away while a drainer runs: its refill on the
    # way out does not make the directory again for a 256 MiB image.
    os.makedirs(os.path.join(sc.tmp, "moved"))
    cfg, state = write_config(os.path.join(sc.tmp, "moved"), sc.fake.url, **settings)
    sid = sc.fake.session([{"tool": "bash", "input": {"command": gated("moved", "done")}}],
                          first_delay=0, end_delay=0)["session_id"]
    t.eq(cgi(cfg, *run_started(sid))[0], 202, "run_started answered 202")
    # Its call running, so the jail is up: a loop device alone is a jail
    # still building its root under the state directory.
    wait_for(lambda: tagged("moved") and loops_on(state), 60, 0.05, "the session's call, in its workspace")
    os.rename(state, state + ".moved")
    release("moved")
    moved = os.path.join(state + ".moved", "sandhook.log")
    t.ok(until(lambda: "event=drain_exit" in open(moved).read(), 60, 0.05) and
         not os.path.exists(os.path.join(state, "spares")) and not os.path.exists(os.path.join(state, "templates")),
         "a state directory moved while its drainer ran gets no spare image back at its old path",
         subprocess.run(["find", state], capture_output=True, text=True).stdout[-500:])
    t.ok("event=workspace_spare_skipped" in open(moved).read() and "the state directory is gone" in open(moved).read(),
         "  ...and the drainer says why it made none")

t.done()
