#!/usr/bin/env python3
"""Memory stores end to end against the fake control plane.

A read-write store and a read-only one are downloaded into /mnt/memory with
their marker, the agent edits through write and bash, someone else edits the
same memory on the server (the server wins), a file is deleted locally (sent
only after the corroboration window, here at the final sync), a file the
server refuses is left alone until it changes, the read-only store refuses
write and bash alike, and the folders are gone when the item ends.  A
session with stores but no sessions token fails its item.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, Scenario, audit_checks, cgi, final_checks, jail_procs, need_root, run_started,
                     wait_for, write_config)

need_root()
t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    audit = os.path.join(tmp, "audit.jsonl")
    cfg, state = write_config(tmp, fake.url, SANDHOOK_WORKSPACE_MB=0, SANDHOOK_MEMORY_SYNC_SECONDS=5,
                              SANDHOOK_AUDIT_FILE=audit)
    log_path = os.path.join(state, "sandhook.log")

    def store(memories):
        return fake.call("POST", "/_fake/memory_stores", {"memories": memories})["memory_store_id"]

    def remote(sid):
        return fake.call("GET", "/_fake/memory_stores/" + sid)["memories"]

    # bulk/: forty memories deleted remotely at once.  Each file's stat goes
    # to the drainer and back to the jail, which removes the file only if it
    # still matches.  About one nanosecond time in twenty did not survive
    # that trip as a JSON number (cJSON prints 15 digits when they come
    # back within its tolerance), and then the file was held at every sync:
    # the agent gives them such an mtime (1700000000.123459715).
    BULK = {"/bulk/f%02d.md" % i: "bulk %d" % i for i in range(40)}
    notes = store(dict({"/a.md": "alpha", "/dir/b.md": "beta", "/del.md": "to delete", "/keep.md": "keep",
                        "/theirs.md": "old", "/gone.md": "bye"}, **BULK))
    rules = store({"/rules.md": "rule 1"})
    resources = [
        {"type": "memory_store", "memory_store_id": notes, "mount_path": "/mnt/memory/notes",
         "access": "read_write", "name": "notes"},
        {"type": "memory_store", "memory_store_id": rules, "mount_path": "/mnt/memory/policies",
         "access": "read_only", "name": "policies"},
    ]
    script = [
        {"tool": "bash", "input": {"command": "cd /mnt/memory && cat notes/a.md notes/dir/b.md "
                                              "policies/rules.md; echo; cat notes/.anthropic-memory-store"}},
        {"tool": "write", "input": {"file_path": "/mnt/memory/notes/new.md", "content": "from write"}},
        {"tool": "bash", "input": {"command": "cd /mnt/memory/notes && echo 'from bash' > dir/b.md && "
                                              "rm del.md && echo edited-a > a.md && "
                                              "touch -m -d @1700000000.123459715 bulk/*.md && echo ok"}},
        {"tool": "write", "input": {"file_path": "/mnt/memory/policies/rules.md", "content": "x"}},
        {"tool": "edit", "input": {"file_path": "/mnt/memory/policies/rules.md",
                                   "old_string": "rule", "new_string": "RULE"}},
        {"tool": "bash", "input": {"command": "echo x > /mnt/memory/policies/rules.md; "
                                              "touch /mnt/memory/policies/new; echo done"}},
        {"tool": "write", "input": {"file_path": "/mnt/memory/notes/refused.md", "content": "REFUSE_ME"}},
        {"tool": "bash", "input": {"command": "sleep 6; echo slept"}},
        {"tool": "bash", "input": {"command": "cd /mnt/memory/notes && for f in a.md theirs.md fresh.md; do cat $f; echo; done; ls; "
                                              "echo bulk: $(ls bulk 2>/dev/null | wc -l)"}},
        {"tool": "bash", "input": {"command": "sleep 6; echo slept again"}},
        {"tool": "read", "input": {"file_path": "/mnt/memory/notes/new.md"}},
    ]
    sid = fake.session(script, resources=resources, terminate=False)["session_id"]
    body, hdrs = run_started(sid)
    st, _, _, _, _ = cgi(cfg, body, hdrs)
    t.eq(st, 202, "run_started accepted")

    def results():
        return [r["content"][0]["text"] for r in fake.state(sid)["results"].values()]

    wait_for(lambda: len(results()) >= 1, 30, 0.05, "the first call")
    # Someone else edits a.md on the server while the agent edits it locally,
    # changes theirs.md, adds fresh.md and deletes gone.md: at once, so a
    # sync that lists the store in between (a slow machine) sees all or none.
    fake.call("POST", "/_fake/memory_stores/" + notes, {"changes": [
        {"path": path, "content": content}
        for path, content in (("/a.md", "remote-a"), ("/theirs.md", "new"), ("/fresh.md", "fresh"),
                              ("/gone.md", None)) + tuple((p, None) for p in BULK)]})
    wait_for(lambda: len(results()) >= 9, 60, 0.1, "the sync after the sleep")
    t.ok("/del.md" in remote(notes), "a local delete is not sent before the 30 s window")
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()) and len(results()) == len(script),
             90, 0.2, "the item to end")
    res = results()
    t.eq(res[0], "alphabetarule 1\nversion 1\n" + notes,
         "both stores were downloaded into /mnt/memory with the marker")
    t.eq(res[1], "wrote 10 bytes to /mnt/memory/notes/new.md", "write reaches a read-write store")
    t.eq(res[2], "ok", "bash edits and deletes in a read-write store")
    t.eq(res[3], "write: /mnt/memory/policies/rules.md is inside read-only directory /mnt/memory/policies",
         "write into the read-only store is refused with the official text")
    t.eq(res[4], "edit: /mnt/memory/policies/rules.md is inside read-only directory /mnt/memory/policies",
         "and edit too")
    t.ok("Read-only file system" in res[5] and res[5].count("Read-only file system") == 2,
         "bash cannot write in the read-only store either", res[5])
    got = res[8].split("\n")
    t.eq(got[0], "remote-a", "a memory changed on both sides: the server's version wins locally")
    t.eq(got[1:3], ["new", "fresh"], "remote-only changes and additions were pulled")
    t.ok("gone.md" not in got and "keep.md" in got and "del.md" not in got,
         "a memory deleted remotely was removed locally", res[8])
    t.eq(got[-1], "bulk: 0", "forty memories deleted remotely at once were all removed locally")
    t.eq(res[10], "from write", "the read tool reaches the store")

    mem = remote(notes)
    t.eq(mem.get("/a.md"), "remote-a", "the server keeps its concurrent edit")
    t.eq(mem.get("/dir/b.md"), "from bash\n", "a local edit through bash was pushed")
    t.eq(mem.get("/new.md"), "from write", "a file made with write was created on the server")
    t.ok("/del.md" not in mem, "the local delete went out at the final sync")
    t.ok("/gone.md" not in mem and mem.get("/theirs.md") == "new" and not any(k.startswith("/bulk/") for k in mem),
         "and nothing undid the remote changes")
    t.eq(mem.get("/keep.md"), "keep", "an untouched memory is untouched")
    t.ok("/refused.md" not in mem, "the file the server refused is not there")
    t.eq(remote(rules), {"/rules.md": "rule 1"}, "the read-only store was never pushed to")
    log = open(log_path).read()
    t.eq(log.count("event=memory_upload_refused"), 1,
         "the refused file was tried once and skipped until it changes")
    t.ok("event=memory_conflict" in log and "keeping the remote version" in log,
         "the conflict was logged as a warning")
    reqs = [r for r in fake.log()["requests"] if r["path"].startswith("/v1/memory_stores/")]
    t.ok(reqs and all(r["credential"] == "sessions_token" for r in reqs),
         "every memory call used the sessions token")
    lists = [r for r in reqs if r["method"] == "GET" and r["path"].endswith("/memories")]
    t.ok(any("view=full&limit=20" in r["query"] for r in lists) and
         any("view=basic&limit=100" in r["query"] for r in lists),
         "downloads list view=full&limit=20, syncs view=basic&limit=100")
    host = os.path.join(state, "sessions", sid)
    t.ok(os.path.isdir(os.path.join(host, "workspace")) and not os.path.exists(os.path.join(host, "memory"))
         and not os.path.exists(os.path.join(host, "memory.img")),
         "the memory folders are removed when the item ends")

    # Twenty memories, nineteen deleted locally: one sync sends at most
    # max(8, min(50, 20 / 4)) = 8 deletes and holds the rest.
    many = store({"/m%02d.md" % i: str(i) for i in range(20)})
    sid3 = fake.session([{"tool": "bash", "input": {"command": "cd /mnt/memory/many && rm m0* m1[0-8]* && ls"}}],
                        resources=[{"type": "memory_store", "memory_store_id": many,
                                    "mount_path": "/mnt/memory/many", "access": "read_write"}],
                        terminate=False)["session_id"]
    body, hdrs = run_started(sid3)
    cgi(cfg, body, hdrs)
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()) and fake.state(sid3)["results"],
             60, 0.2, "the delete-cap item")
    t.eq([r["content"][0]["text"] for r in fake.state(sid3)["results"].values()], ["m19.md"],
         "nineteen memories deleted locally")
    t.eq(len(remote(many)), 12, "the final sync sent 8 deletes, the per-sync cap, and held 11")
    t.ok("event=memory_delete_cap" in open(log_path).read() and "held=11" in open(log_path).read(),
         "and said so")

    # A link planted where a read-only store's parent was, then the jail dies
    # (killed here, as a crash would) and is built again, with privileges:
    # the host directory the link names must not be chowned or written.
    target = os.path.join(tmp, "host-target")
    os.makedirs(target)
    nested = store({"/r.md": "r"})
    sid4 = fake.session([
        {"tool": "bash", "input": {"command": "cd /mnt/memory && mv a a.old && ln -s %s a && echo planted"
                                              % target}},
        {"tool": "bash", "input": {"command": "sleep 20"}},
        {"tool": "bash", "input": {"command": "echo rebuilt"}}],
        resources=[{"type": "memory_store", "memory_store_id": nested, "mount_path": "/mnt/memory/a/b",
                    "access": "read_only"}], terminate=False)["session_id"]
    body, hdrs = run_started(sid4)
    cgi(cfg, body, hdrs)

    def our_jail():
        """The jail's outer process, the one the drainer kills."""
        procs = jail_procs(state)
        return next((int(p) for p, pp in procs.items() if pp not in procs), None)

    wait_for(lambda: len(fake.state(sid4)["results"]) == 1, 30, 0.1, "the link")
    os.kill(wait_for(our_jail, 10, 0.1, "the jail"), 9)
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()) and
             len(fake.state(sid4)["results"]) == 3, 60, 0.2, "the link-planting item")
    res = [r["content"][0]["text"] for r in fake.state(sid4)["results"].values()]
    t.eq(res[:2], ["planted", "bash: the sandbox stopped responding"], "a link planted, then the jail died")
    st_target = os.stat(target)
    t.ok(st_target.st_uid == 0 and os.listdir(target) == [] and res[2] != "rebuilt",
         "the jail built again refuses the link: nothing outside the memory folder is touched",
         "%s %s %s" % (st_target.st_uid, os.listdir(target), res[2]))

    # A server that stops answering at the end: the final sync and the flush
    # each give up after 30 s, and the item still ends.
    slow = store({"/s.md": "s"})
    sid5 = fake.session([{"tool": "bash", "input": {"command": "echo edit > /mnt/memory/slow/s.md"}}],
                        resources=[{"type": "memory_store", "memory_store_id": slow,
                                    "mount_path": "/mnt/memory/slow"}], terminate=False)["session_id"]
    body, hdrs = run_started(sid5)
    cgi(cfg, body, hdrs)
    wait_for(lambda: fake.state(sid5)["results"], 30, 0.1, "the slow-store call")
    fake.config(memory_delay=40)
    t0 = time.time()
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()), 120, 0.5, "the slow item")
    took = time.time() - t0
    fake.config(memory_delay=0)
    log = open(log_path).read()
    t.ok("event=memory_final_sync_cut" in log and "event=memory_flush_cut" in log and took < 80,
         "a slow server: the final sync and the flush each stopped at 30 s (the item ended in %.0f s)" % took)

    # No sessions token: the item fails before anything runs.
    fake.config(no_secret=True)
    sid2 = fake.session([{"tool": "bash", "input": {"command": "echo never"}}],
                        resources=resources[:1])["session_id"]
    body, hdrs = run_started(sid2)
    cgi(cfg, body, hdrs)
    wait_for(lambda: all(w["state"] == "stopped" for w in fake.work()), 30, 0.2, "the tokenless item")
    t.eq(fake.state(sid2)["results"], {}, "a session with stores but no sessions token runs nothing")
    t.ok("the work item carried no sessions token" in open(log_path).read(),
         "and its item fails with the spec's message")
    fake.config(no_secret=False)
    audit_checks(t, audit, {"memory_synced": [("direction", "download"), ("direction", "upload"),
                                              ("direction", "delete")]})
    final_checks(t, fake, log_path)
t.done()
