#!/usr/bin/env python3
"""Keeps the fake control plane honest: the official TypeScript worker
(@anthropic-ai/sdk 1.14.0, EnvironmentWorker, unmodified) and sandhook run
the same scripted session against the fake.  The fake must see no protocol
violation from either, and both must answer the same calls with the same
results (the workdir's path aside).  Where they disagree about the protocol,
the fake is what gets fixed."""
import base64
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (Checks, Fake, cgi, free_tmp, need_root, run_started, skip, wait_for,
                     write_config, ENV_ID, ENV_KEY)

SDK = os.path.join(HERE, "node_modules", "@anthropic-ai", "sdk")
if not shutil.which("node"):
    skip("node is not installed")
if not os.path.isdir(SDK):
    skip("the official SDK is not installed: run 'npm ci --prefix tests/conformance'")
need_root()

# Memory stores mount at absolute paths, on the host for the official worker
# (it has no jail): a fresh directory per run, removed at the end.
MEM = "/mnt/memory/sandhook-conformance-" + os.urandom(4).hex()

# glob is left out: on Node 20 (Debian 12) the official toolset's glob needs
# fs.promises.glob, which only Node 22 has.
SCRIPT = [
    # What the skills (made by make_skills) left in the workdir: files and modes.
    {"tool": "bash", "input": {"command": "cd skills && for f in $(find . -type f | sort) pdf-tools "
                                          "pdf-tools/scripts; do stat -c '%a %n' $f; done; cat flat/SKILL.md"}},
    {"tool": "bash", "input": {"command": "echo hello"}},
    {"tool": "bash", "input": {"command": "mkdir -p sub && cd sub && export GREETING=hi"}},
    {"tool": "bash", "input": {"command": "echo $(basename $PWD) $GREETING"}},
    {"tool": "bash", "input": {"command": "ls /nonexistent"}},
    {"tool": "bash", "input": {"command": "(exit 4)"}},
    {"tool": "write", "input": {"file_path": "notes.txt", "content": "alpha\nbeta\ngamma\n"}},
    {"tool": "read", "input": {"file_path": "notes.txt", "view_range": [2, 3]}},
    {"tool": "read", "input": {"file_path": "missing.txt"}},
    {"tool": "edit", "input": {"file_path": "notes.txt", "old_string": "beta", "new_string": "BETA"}},
    {"tool": "edit", "input": {"file_path": "notes.txt", "old_string": "a", "new_string": "b"}},
    {"tool": "grep", "input": {"pattern": "^BE"}},
    {"tool": "read", "input": {"file_path": "../../etc/shadow"}},
    {"tool": "bash", "input": {"command": "echo denied"}, "permission": "deny"},
    {"tool": "bash", "input": {"command": "echo confirmed"}, "permission": "ask", "confirm": "allow"},
    {"tool": "bash", "input": {"command": "echo refused"}, "permission": "ask", "confirm": "deny"},
    {"tool": "bash", "input": {"command": "echo unconfirmed"}, "permission": None},
    {"custom": "lookup_customer", "input": {"id": 7}},
    {"tool": "web_fetch", "input": {"url": "https://example.com"}},
    # Memory (make_memory): read, write, a read-only refusal, bash edits.
    {"tool": "bash", "input": {"command": "cat %s/notes/a.md; echo; head -1 %s/notes/.anthropic-memory-store"
                                          % (MEM, MEM)}},
    {"tool": "write", "input": {"file_path": MEM + "/notes/new.md", "content": "from write"}},
    {"tool": "write", "input": {"file_path": MEM + "/ro/rules.md", "content": "x"}},
    {"tool": "edit", "input": {"file_path": MEM + "/ro/rules.md", "old_string": "rule", "new_string": "R"}},
    {"tool": "read", "input": {"file_path": MEM + "/ro/rules.md"}},
    {"tool": "bash", "input": {"command": "cd %s/notes && echo 'from bash' > a.md && rm del.md && echo ok" % MEM}},
    {"tool": "bash", "input": {"command": "exit 3"}},
    {"tool": "bash", "input": {"command": "echo after-exit"}},
]


def make_skills(fake):
    """The same skills on either fake: zip with a wrapper and an executable,
    fetched as "latest"; tar.gz without one, pinned to its first version;
    links and a device left out; a ".." member failing its whole skill."""
    def add(name, archive, skill_id=None):
        return fake.call("POST", "/_fake/skills", {"skill_id": skill_id, "name": name,
                                                   "archive": base64.b64encode(archive).decode()})

    def tar(members):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for name, data, mode, kind, link in members:
                info = tarfile.TarInfo(name)
                info.mode, info.type, info.linkname = mode, kind, link
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        return buf.getvalue()

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, mode in (("pdf-tools/SKILL.md", b"pdf\n", 0o600),
                                 ("pdf-tools/scripts/run.sh", b"#!/bin/sh\n", 0o750)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, data)
    pdf = add("pdf-tools", buf.getvalue())
    flat = add("flat", tar([("SKILL.md", b"one\n", 0o644, tarfile.REGTYPE, ""),
                            ("bin/tool", b"x", 0o711, tarfile.REGTYPE, "")]))
    add("flat", tar([("SKILL.md", b"two\n", 0o644, tarfile.REGTYPE, "")]), flat["skill_id"])
    links = add("links", tar([("links/SKILL.md", b"l\n", 0o644, tarfile.REGTYPE, ""),
                              ("links/passwd", b"", 0o777, tarfile.SYMTYPE, "/etc/passwd"),
                              ("links/hard", b"", 0o644, tarfile.LNKTYPE, "links/SKILL.md")]))
    dotdot = add("dotdot", tar([("d/SKILL.md", b"x", 0o644, tarfile.REGTYPE, ""),
                                ("d/../../escape", b"x", 0o644, tarfile.REGTYPE, "")]))
    return [{"type": "custom", "skill_id": pdf["skill_id"], "version": "latest"},
            {"type": "custom", "skill_id": flat["skill_id"], "version": flat["version"]},
            {"type": "custom", "skill_id": links["skill_id"], "version": "latest"},
            {"type": "custom", "skill_id": dotdot["skill_id"], "version": "latest"}]


def make_memory(fake):
    """A read-write and a read-only store; returns (resources, store ids)."""
    notes = fake.call("POST", "/_fake/memory_stores", {"memories": {
        "/a.md": "alpha", "/del.md": "to delete", "/keep.md": "keep"}})["memory_store_id"]
    ro = fake.call("POST", "/_fake/memory_stores", {"memories": {"/rules.md": "rule 1"}})["memory_store_id"]
    return ([{"type": "memory_store", "memory_store_id": notes, "mount_path": MEM + "/notes",
              "access": "read_write", "name": "notes"},
             {"type": "memory_store", "memory_store_id": ro, "mount_path": MEM + "/ro",
              "access": "read_only", "name": "ro"}], (notes, ro))


def stores(fake, ids):
    return [fake.call("GET", "/_fake/memory_stores/" + i)["memories"] for i in ids]


def outcome(fake, sid, workdir):
    st = fake.state(sid)
    calls = [e for e in st["events"] if e["type"] == "agent.tool_use"]
    out = []
    for c in calls:
        r = st["results"].get(c["id"])
        if r is None:
            out.append((c["name"], "unanswered"))
        else:
            out.append((c["name"], r["is_error"], r["content"][0]["text"].replace(workdir, "<workdir>")))
    return out


t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
node = None
try:
    # The official worker.
    workdir = os.path.join(tmp, "official-work")
    os.makedirs(workdir)
    resources, ids = make_memory(fake)
    sid_official = fake.session(SCRIPT, skills=make_skills(fake), resources=resources)["session_id"]
    env = dict(os.environ, ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_ENVIRONMENT_ID=ENV_ID,
               ANTHROPIC_ENVIRONMENT_KEY=ENV_KEY, WORKDIR=workdir, MAX_IDLE_MS="3000")
    node = subprocess.Popen(["node", os.path.join(HERE, "worker.mjs")], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "node.err"), "w"))
    def official_done():
        if node.poll() is not None:
            raise RuntimeError("the official worker exited early; see %s/node.err" % tmp)
        return fake.state(sid_official)["status"] == "terminated" and \
            all(w["state"] == "stopped" for w in fake.work())
    wait_for(official_done, 90, 0.2, "the official worker")
    node.send_signal(signal.SIGTERM)
    node.wait(10)
    official = outcome(fake, sid_official, workdir)
    official_stores = stores(fake, ids)
    t.eq(official_stores, [{"/a.md": "from bash\n", "/keep.md": "keep", "/new.md": "from write"},
                           {"/rules.md": "rule 1"}],
         "the official worker synced the memory stores back through the fake")
    want = ("644 ./flat/SKILL.md\n755 ./flat/bin/tool\n644 ./links/SKILL.md\n644 ./pdf-tools/SKILL.md\n"
            "755 ./pdf-tools/scripts/run.sh\n700 pdf-tools\n700 pdf-tools/scripts\none")
    t.eq(official[0], ("bash", False, want),
         "the official worker installed the fake's skills (links and the '..' skill left out)")
    t.eq(fake.log()["violations"], [], "the fake saw no violation from the official worker")
    reqs = [r for r in fake.log()["requests"] if r.get("method")]
    t.ok(all(r["version"] == "2026-10-21" for r in reqs),
         "the official worker sends anthropic-version 2026-10-21, as the fake expects")

    # sandhook, the same script, on a fresh fake: the official worker's last
    # long poll may still be open on the first one.
    fake.stop()
    fake = Fake(tmp)
    cfg, state = write_config(tmp, fake.url)
    resources, ids = make_memory(fake)
    sid_ours = fake.session(SCRIPT, skills=make_skills(fake), resources=resources)["session_id"]
    body, hdrs = run_started(sid_ours)
    st, *_ = cgi(cfg, body, hdrs)
    t.eq(st, 202, "sandhook accepted the run_started webhook")
    wait_for(lambda: fake.state(sid_ours)["status"] == "terminated" and
             all(w["state"] == "stopped" for w in fake.work()), 90, 0.2, "sandhook")
    ours = outcome(fake, sid_ours, "/workspace")

    t.eq(fake.log()["violations"], [], "the fake saw no violation from sandhook")
    t.eq(len(ours), len(official), "both saw the same calls")
    for i, (a, b) in enumerate(zip(official, ours)):
        t.eq(b, a, "call %d (%s): sandhook answers as the official worker does" % (i + 1, a[0]))
    t.eq(stores(fake, ids), official_stores, "and leaves the memory stores as the official worker does")
finally:
    if node and node.poll() is None:
        node.kill()
    fake.stop()
    shutil.rmtree(MEM, ignore_errors=True)
t.done()
