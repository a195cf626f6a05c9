#!/usr/bin/env python3
"""The drainer under valgrind, serving four sessions on three slots at once
(two of them for rings of its doorbell): no invalid read or write, no use
of freed memory, no definite leak, and every call answered.  AddressSanitizer
does not see reads made inside uninstrumented libraries (cJSON's), which is
where valgrind found a result read after it was freed."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import SANDHOOK, Checks, Fake, free_tmp, need_root, skip, wait_for, write_config

DRAIN = os.path.join(os.path.dirname(SANDHOOK), "sandhook-drain")

need_root()
if not shutil.which("valgrind"):
    skip("valgrind is not installed (apt-get install valgrind)")
libs = subprocess.run(["ldd", DRAIN], capture_output=True, text=True).stdout
if "libasan" in libs or "libtsan" in libs:
    skip("a sanitizer build cannot run under valgrind; the plain build runs this test")
t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
try:
    cfg, state = write_config(tmp, fake.url, SANDHOOK_MAX_SESSIONS=3)
    sids = [fake.session([{"tool": "bash", "input": {"command": "sleep 1; echo %d" % i}}])["session_id"]
            for i in range(4)]
    p = subprocess.Popen(["valgrind", "-q", "--error-exitcode=9", "--leak-check=full",
                          "--errors-for-leak-kinds=definite", DRAIN, "--config", cfg],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bell = os.path.join(state, "run", "doorbell")
    wait_for(lambda: os.path.exists(bell) and any(e["type"] == "agent.tool_use"
                                                  for e in fake.state(sids[0])["events"]),
             120, 0.1, "the drainer's first call")
    fd = os.open(bell, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"rr")
    os.close(fd)
    try:
        out, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    report = "\n".join(line for line in err.splitlines() if line.startswith("=="))
    t.ok(p.returncode == 0, "valgrind saw no error in the drainer (exit %s)" % p.returncode, report[-3000:])
    log = err                   # started by hand: its lines go to stderr
    t.ok(log.count("event=slot_taken") == 2, "it served three slots at once (two for the rings)", log[-1500:])
    t.eq([[r["content"][0]["text"] for r in fake.state(s)["results"].values()] for s in sids],
         [["0"], ["1"], ["2"], ["3"]], "every call answered once")
    t.eq(fake.log()["violations"], [], "the fake saw no protocol violation")
finally:
    fake.stop()
t.done()
