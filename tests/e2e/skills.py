#!/usr/bin/env python3
"""Skills end to end: archives served by the fake control plane, fetched by
the drainer after the first heartbeat and unpacked inside the jail into
/workspace/skills/<name>/, where the agent's tools see them.

Zip and tar (gzip, bzip2, xz), a "latest" alias and a pinned version, a
legacy server that only lists numeric versions, and every hostile archive
the issue names, each refused with a log line while the others install and
nothing is written outside the target.  The skill directories are gone when
the item ends.
"""
import base64
import io
import os
import stat
import sys
import tarfile
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, Scenario, audit_checks, cgi, final_checks, need_root, run_started, wait_for,
                     write_config)

need_root()

SKILL_MD = b"---\nname: pdf-tools\n---\nUse scripts/run.sh.\n"


def zip_archive(files):
    """files: [(name, data or None for a directory, unix mode)]"""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            z.writestr(info, data if data is not None else b"")
    return buf.getvalue()


def tar_archive(files, comp="gz"):
    """files: [(name, data, mode, type, linkname)]"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:" + comp) as tf:
        for name, data, mode, kind, link in files:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.type = kind
            info.linkname = link or ""
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                    info.devmajor, info.devminor = 1, 3
                tf.addfile(info)
    return buf.getvalue()


def reg(name, data, mode=0o644):
    return (name, data, mode, tarfile.REGTYPE, None)


t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    # A directory workspace, so the host can look at what landed where.
    audit = os.path.join(tmp, "audit.jsonl")
    cfg, state = write_config(tmp, fake.url, SANDHOOK_WORKSPACE_MB=0,
                              SANDHOOK_SKILL_MAX_MB=1, SANDHOOK_SKILL_MAX_ENTRIES=50,
                              SANDHOOK_AUDIT_FILE=audit)

    def skill(name, archive, legacy=False, skill_id=None):
        return fake.call("POST", "/_fake/skills", {
            "skill_id": skill_id, "name": name, "legacy": legacy,
            "archive": base64.b64encode(archive).decode()})

    # tar.gz without a wrapper, two versions, the first pinned by number
    first = skill("flat", tar_archive([reg("SKILL.md", b"version one\n"), reg("lib/a.py", b"1\n")]))
    skill("flat", tar_archive([reg("SKILL.md", b"version two\n")]), skill_id=first["skill_id"])
    good = [
        # zip with a wrapper directory, an executable script, fetched as "latest"
        skill("pdf-tools", zip_archive([
            ("pdf-tools/", None, stat.S_IFDIR | 0o755),
            ("pdf-tools/SKILL.md", SKILL_MD, stat.S_IFREG | 0o600),
            ("pdf-tools/scripts/run.sh", b"#!/bin/sh\necho ran\n", stat.S_IFREG | 0o700)])),
        first,
        # tar.bz2 and tar.xz on a legacy server: "latest" means the listing
        skill("bz-skill", tar_archive([reg("bz/SKILL.md", b"bzip2\n")], "bz2"), legacy=True),
        skill("xz-skill", tar_archive([reg("xz/SKILL.md", b"xz\n", 0o755)], "xz")),
    ]
    hostile = {
        "abs": skill("abs", tar_archive([reg("abs/SKILL.md", b"x"), reg("/tmp/abs-escape", b"x")])),
        "dotdot": skill("dotdot", tar_archive([reg("d/SKILL.md", b"x"), reg("d/../../dotdot-escape", b"x")])),
        "links": skill("links", tar_archive([
            reg("links/SKILL.md", b"kept\n"),
            ("links/passwd", None, 0o777, tarfile.SYMTYPE, "/etc/passwd"),
            ("links/hard", None, 0o644, tarfile.LNKTYPE, "links/SKILL.md"),
            ("links/mem", None, 0o644, tarfile.CHRTYPE, None),
            ("links/fifo", None, 0o644, tarfile.FIFOTYPE, None)])),
        "ziplink": skill("ziplink", zip_archive([
            ("zl/SKILL.md", b"kept\n", stat.S_IFREG | 0o644),
            ("zl/up", b"../../..", stat.S_IFLNK | 0o777)])),
        "big": skill("big", tar_archive([reg("big/zeros", b"\0" * (3 << 20))])),
        "many": skill("many", tar_archive([reg("many/f%d" % i, b"x") for i in range(60)])),
        "garbage": skill("garbage", b"this is not an archive at all"),
    }
    agent_skills = [{"type": "custom", "skill_id": good[0]["skill_id"], "version": "latest"},
                    {"type": "custom", "skill_id": good[1]["skill_id"], "version": int(good[1]["version"])},
                    {"type": "custom", "skill_id": good[2]["skill_id"], "version": "latest"},
                    {"type": "custom", "skill_id": good[3]["skill_id"], "version": "latest"},
                    {"type": "custom", "skill_id": "skill_missing", "version": "latest"}]
    agent_skills += [{"type": "custom", "skill_id": h["skill_id"], "version": "latest"}
                     for h in hostile.values()]
    look = ("cd /workspace/skills && find . | sort && stat -c '%a %n' pdf-tools pdf-tools/SKILL.md "
            "pdf-tools/scripts/run.sh xz-skill/SKILL.md && cat flat/SKILL.md bz-skill/SKILL.md && "
            "pdf-tools/scripts/run.sh")
    sid = fake.session([{"tool": "bash", "input": {"command": look}},
                        {"tool": "read", "input": {"file_path": "skills/pdf-tools/SKILL.md"}}],
                       skills=agent_skills, terminate=False)["session_id"]
    body, hdrs = run_started(sid)
    st, _, _, _, _ = cgi(cfg, body, hdrs)
    t.eq(st, 202, "run_started accepted")
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()), 60, 0.2, "the item to end")
    res = [r["content"][0]["text"] for r in fake.state(sid)["results"].values()]
    out = res[0] if res else ""
    listing = out.split("\n")
    t.ok("./pdf-tools/SKILL.md" in listing and "./pdf-tools/scripts/run.sh" in listing,
         "a zip skill fetched as latest is in /workspace/skills/pdf-tools, its wrapper stripped", out)
    t.ok("./flat/SKILL.md" in listing and "./flat/lib/a.py" in listing and "version one" in out,
         "a tar.gz skill without a wrapper, pinned to its first version", out)
    t.ok("bzip2" in out and "./bz-skill/SKILL.md" in listing,
         "a tar.bz2 skill from a legacy server (latest resolved from the listing)", out)
    t.ok("./xz-skill/SKILL.md" in listing, "a tar.xz skill", out)
    t.ok("700 pdf-tools\n644 pdf-tools/SKILL.md\n755 pdf-tools/scripts/run.sh\n755 xz-skill/SKILL.md" in out,
         "directories 0700, files 0755 with any execute bit and 0644 without", out)
    t.ok(out.rstrip().endswith("ran"), "the agent runs the skill's script", out)
    t.eq(res[1:], [SKILL_MD.decode()], "the read tool sees the skill")
    t.ok("./links/SKILL.md" in listing and "./ziplink/SKILL.md" in listing and
         not any(x in listing for x in ("./links/passwd", "./links/hard", "./links/mem",
                                        "./links/fifo", "./ziplink/up")),
         "symlinks, hard links, devices and fifos are left out; the rest of the skill is there", out)
    for name in ("abs", "dotdot", "big", "many", "garbage"):
        t.ok("./%s" % name not in listing, "the %s skill was refused as a whole" % name, out)

    log = open(os.path.join(state, "sandhook.log")).read()
    lines = [l for l in log.split("\n") if "event=skill_" in l]

    def logged(event, *words):
        return any("event=" + event in l and all(w in l for w in words) for l in lines)

    t.ok(logged("skill_failed", hostile["abs"]["skill_id"], "an absolute path"), "absolute path logged")
    t.ok(logged("skill_failed", hostile["dotdot"]["skill_id"], "'..' component"),
         "a .. member logged", "\n".join(lines))
    for entry, why in (("links/passwd", "symbolic link"), ("links/hard", "hard link"),
                       ("links/mem", "device"), ("links/fifo", "device"), ("zl/up", "symbolic link")):
        t.ok(logged("skill_entry_refused", "entry=%s " % entry, why), "%s refused: %s" % (entry, why))
    t.ok(logged("skill_failed", hostile["big"]["skill_id"], "more than 1048576 bytes"),
         "over SANDHOOK_SKILL_MAX_MB refused")
    t.ok(logged("skill_failed", hostile["many"]["skill_id"], "more than 50 entries"),
         "over SANDHOOK_SKILL_MAX_ENTRIES refused")
    t.ok(logged("skill_failed", hostile["garbage"]["skill_id"], "not a zip or tar archive"),
         "a non-archive refused")
    t.ok(logged("skill_failed", "skill_missing", "answered 404"), "a missing skill logged")
    t.eq(sum("event=skill_installed" in l for l in lines), 6, "the six good skills installed")
    ws = os.path.join(state, "sessions", sid, "workspace")
    t.ok(not os.path.exists("/tmp/abs-escape") and not os.path.exists(os.path.join(ws, "dotdot-escape"))
         and not os.path.exists(os.path.join(state, "sessions", sid, "dotdot-escape")),
         "nothing was written outside the target")
    t.ok(os.path.isdir(ws) and not os.path.exists(os.path.join(ws, "skills")),
         "the skill directories are gone when the item ends")

    reqs = fake.log()["requests"]
    first_hb = min(i for i, r in enumerate(reqs) if r["path"].endswith("/heartbeat"))
    skill_reqs = [i for i, r in enumerate(reqs) if r["path"].startswith("/v1/skills/")]
    stream = min(i for i, r in enumerate(reqs) if r["path"].endswith("/events/stream"))
    t.ok(skill_reqs and first_hb < min(skill_reqs) and max(skill_reqs) < stream,
         "skills were fetched after the first heartbeat and before the stream opened")
    t.ok(all(reqs[i]["credential"] == "sessions_token" for i in skill_reqs),
         "with the sessions token")

    # A link planted where the skills go: the next item's install refuses
    # to follow it, and the link's target stays empty.
    os.makedirs(os.path.join(ws, "target"))
    os.symlink("/workspace/target", os.path.join(ws, "skills"))
    fake.session([{"tool": "bash", "input": {"command": "ls -A /workspace/target | wc -l"}}],
                 id=sid, terminate=False)
    body, hdrs = run_started(sid)
    st, _, _, _, _ = cgi(cfg, body, hdrs)
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()), 60, 0.2, "the second item")
    res = [r["content"][0]["text"] for r in fake.state(sid)["results"].values()]
    t.eq(res[-1:], ["0"], "a symlinked skills directory is not followed")
    t.ok("(a link?)" in open(os.path.join(state, "sandhook.log")).read(), "and that is logged")
    t.eq(os.listdir(os.path.join(ws, "target")), [], "nothing landed in the link's target")
    audit_checks(t, audit, {"skill_installed": [], "tool_call": [("tool", "bash")]})
    final_checks(t, fake, os.path.join(state, "sandhook.log"))
t.done()
