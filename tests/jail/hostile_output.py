#!/usr/bin/env python3
"""The escape suite for output that is not clean text, through the real
path (fake control plane -> nginx -> FastCGI responder -> drainer -> jail).

A NUL in bash's output must not hide the end of the command, and whatever a
tool produced (binary, Latin-1, a file name that is not UTF-8) must reach
the control plane as a body it can parse, invalid sequences as U+FFFD, as
the official worker's Node decoding gives: every call answered, at once.
A display path longer than any fixed buffer must come out whole, and a
glob pattern built to backtrack is decided at once.  And the
log: a memory file whose name is a forged log field, and every other value
the agent chose, stays one quoted value of one line.
"""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import (Checks, FcgiPool, Nginx, Scenario, final_checks, need_root, run_started,
                     until, write_config)

need_root()
t = Checks()
R = "\ufffd"
LONG = "n" * 250
DEEP = "/".join([LONG] * 20)      # a display path of over 5,000 bytes
FORGED = 'x" level=error event=forged note="'
FIELD = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')


def logfmt(line):
    """The fields of one logfmt line, or None when it does not parse."""
    fields, pos = [], 0
    while pos < len(line):
        m = FIELD.match(line, pos)
        if not m or m.end() == pos:
            return None
        fields.append((m.group(1), m.group(2)))
        pos = m.end()
    return fields

CASES = [
    ("nul", "bash", {"command": "printf 'a\\0b'", "timeout_ms": 60000}),
    ("print0", "bash", {"command": "mkdir -p z && touch z/one z/two && find z -type f -print0 | sort -z",
                        "timeout_ms": 60000}),
    ("latin1", "bash", {"command": "printf 'caf\\xe9\\n'"}),
    ("binary", "bash", {"command": "head -c 3000 /bin/true; echo; echo after-binary"}),
    ("truncated binary", "bash", {"command": "head -c 400000 /bin/bash; echo; echo tail-marker"}),
    ("setup", "bash", {"command": "printf 'na\\xefve match\\n' > latin.txt && cp /bin/true bin.dat && "
                                  "touch $'\\xff.txt' && (for i in $(seq 20); do mkdir %s && cd %s || exit; done; "
                                  "echo needle > hay.txt) && echo set" % (LONG, LONG)}),
    ("grep latin1", "grep", {"pattern": "match", "path": "latin.txt"}),
    ("read binary", "read", {"file_path": "bin.dat"}),
    ("glob name", "glob", {"pattern": "*.txt"}),
    # A long path in the input plus a long path below it: one display path.
    ("grep deep", "grep", {"pattern": "needle", "output_mode": "content",
                           "path": "/workspace/" + "/".join([LONG] * 15)}),
    ("forge a log field", "bash", {"command": "cd /mnt/memory/notes && echo x > '%s' && "
                                             "printf 'y\\n' > $'nl\\nts=0 level=error event=forged2' && ls | wc -l" % FORGED}),
    ("deep tree", "bash", {"command": "mkdir -p /workspace/bomb/$(printf 'a/%.0s' $(seq 24)) && "
                                      "touch /workspace/bomb/$(printf 'a/%.0s' $(seq 24))b && echo built"}),
    ("glob bomb", "glob", {"pattern": "**/" * 12 + "x", "path": "bomb"}),
    ("write the - store", "write", {"file_path": "/mnt/memory/-/r.md", "content": "changed"}),
    ("bash in the - store", "bash", {"command": "cat /mnt/memory/-/r.md; echo x > /mnt/memory/-/new 2>&1; "
                                                "ls /mnt/memory/-"}),
    ("stderr", "bash", {"command": "printf 'no such \\xfe\\xfd\\n' >&2; false"}),
]

with Scenario() as sc:
    cfg, state = write_config(sc.tmp, sc.fake.url)
    pool = sc.add(FcgiPool(sc.tmp, cfg))
    web = sc.add(Nginx(sc.tmp, pool.sock))
    store = sc.fake.call("POST", "/_fake/memory_stores", {"memories": {"/a.md": "a"}})["memory_store_id"]
    # Named like the helper's old in-band "no read-only store" placeholder.
    dash = sc.fake.call("POST", "/_fake/memory_stores", {"memories": {"/r.md": "r"}})["memory_store_id"]
    sid = sc.fake.session([{"tool": tool, "input": inp} for _, tool, inp in CASES],
                          resources=[{"type": "memory_store", "memory_store_id": store, "name": "notes",
                                      "mount_path": "/mnt/memory/notes", "access": "read_write"},
                                     {"type": "memory_store", "memory_store_id": dash, "name": "-",
                                      "access": "read_only"}]
                          )["session_id"]
    t0 = time.time()
    body, hdrs = run_started(sid)
    t.eq(web.post("/hooks/sandhook", body, hdrs)[0], 202, "run_started accepted through nginx")
    t.ok(until(lambda: sc.fake.state(sid)["status"] == "terminated" and
               all(w["state"] == "stopped" for w in sc.fake.work()), 150, 0.1),
         "the session ended and its work item stopped")
    took = time.time() - t0
    s = sc.fake.state(sid)
    calls = [e for e in s["events"] if e["type"] == "agent.tool_use"]
    out = {}
    for (name, _, _), call in zip(CASES, calls):
        r = s["results"].get(call["id"])
        out[name] = (r["is_error"], r["content"][0].get("text", "")) if r else (None, "(unanswered)")
    t.eq(sum(1 for v in out.values() if v[0] is not None), len(CASES), "every call was answered")
    t.ok(took < 60, "none of them waited for its timeout (the session took %.1fs)" % took)
    t.eq(out["nul"], (False, "a" + R + "b"), "a NUL in bash's output: the command ends, the NUL is U+FFFD")
    t.eq(out["print0"], (False, "z/one" + R + "z/two" + R), "find -print0 comes back whole")
    t.eq(out["latin1"], (False, "caf" + R), "Latin-1 output: the invalid byte is U+FFFD")
    t.ok(out["binary"][0] is False and out["binary"][1].endswith("after-binary") and R in out["binary"][1],
         "a binary printed by bash is posted as text", repr(out["binary"])[:300])
    t.ok(out["truncated binary"][1].startswith("[output truncated]\n") and
         out["truncated binary"][1].endswith("tail-marker"), "a long binary output keeps its tail",
         repr(out["truncated binary"][1][:80]))
    t.eq(out["setup"], (False, "set"), "the hostile files were made")
    t.ok(out["grep latin1"][1].endswith("na" + R + "ve match"), "grep over a Latin-1 file",
         repr(out["grep latin1"]))
    t.ok(out["read binary"][0] and "not valid UTF-8" in out["read binary"][1],
         "read of a binary file is an error, as the official worker's", repr(out["read binary"]))
    t.ok(R + ".txt" in out["glob name"][1] and "latin.txt" in out["glob name"][1],
         "a file name that is not UTF-8 is listed with U+FFFD", repr(out["glob name"]))
    t.ok(out["grep deep"][1].endswith(DEEP + "/hay.txt:1:needle"),
         "a %d-byte display path comes out whole" % len(DEEP), repr(out["grep deep"][1][-120:]))
    t.ok(out["write the - store"][0] and "read-only" in out["write the - store"][1],
         "a read-only store named - is refused to write", repr(out["write the - store"]))
    t.ok(out["bash in the - store"][1].startswith("r") and "Read-only file system" in out["bash in the - store"][1]
         and out["bash in the - store"][1].split("\n")[-1] == "r.md", "and bash cannot write in it either",
         repr(out["bash in the - store"]))
    t.eq(out["glob bomb"], (False, "no matches"), "twelve ** against a tree 25 deep is decided at once")
    t.eq(out["stderr"], (True, "no such " + R + R), "an error on stderr that is not UTF-8")
    log = os.path.join(state, "sandhook.log")
    lines = open(log, errors="replace").read().splitlines()
    t.ok(any("memory_" in l and "forged" in l for l in lines), "the hostile memory names reached the log",
         "\n".join(lines[-20:]))
    bad = [l for l in lines if logfmt(l) is None]
    t.eq(bad, [], "every log line parses as logfmt")
    forged = [l for l in lines if any(k == "event" and v.startswith("forged") for k, v in logfmt(l) or [])]
    t.eq(forged, [], "no value became a field of its own, nor a line")
    t.ok(all(l.startswith("ts=") for l in lines), "every line is a line of sandhook's")
    t.ok("post_refused" not in open(log).read() and "tool_result_post_failed" not in open(log).read(),
         "no post was refused")
    final_checks(t, sc.fake, log, os.path.join(sc.tmp, "fcgi.err"))
t.done()
