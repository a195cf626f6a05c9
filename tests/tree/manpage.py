#!/usr/bin/env python3
"""sandhook(8) covers what an operator meets, and the build keeps it so:
every setting config.c reads, every subcommand --help names, every log
event any part writes, every HTTP status the responder answers, and the
paths this build installs to, with no placeholder left and no troff
warning.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import BUILD, SANDHOOK, TOP, Checks  # noqa: E402

# Where an event name is written: the log calls, and the few places that
# hand one on (a failed API call, a refused start, a fetch, the memory
# sync's notes, the lease's verdict).
EVENT_PATTERNS = [
    r'log_(?:info|warn|err|debug)\(\s*"([a-z_]+)"',
    r'api_log_failure\([^;]*?"([a-z_]+)"\)',
    r'refuse\("([a-z_]+)"',
    r'session_get\([^;]*?"([a-z_]+)"',
    r'\{ LOG_[A-Z]+, "([a-z_]+)"',
    r'log_(?:info|warn|err)\([^";]*\? "([a-z_]+)" : "([a-z_]+)"',
]


def sources(*parts):
    for part in parts:
        for root, _, files in os.walk(os.path.join(TOP, "src", part)):
            for name in files:
                if name.endswith(".c"):
                    yield open(os.path.join(root, name)).read()


def section(page, title):
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH )" % re.escape(title), page, re.M | re.S)
    return m.group(1) if m else ""


def main():
    t = Checks()
    path = os.path.join(BUILD, "man", "sandhook.8")
    page = open(path).read()
    plain = page.replace("\\-", "-").replace("\\", "")

    settings = re.findall(r'\{ "([A-Z_]+)", K_', open(os.path.join(TOP, "src/common/config.c")).read())
    t.ok(len(settings) > 40 and not [s for s in settings if s not in plain],
         "every setting config.c reads is in the page (%d)" % len(settings),
         [s for s in settings if s not in plain])

    events = set()
    for text in sources("common", "front", "drain", "jail", "egress"):
        for p in EVENT_PATTERNS:
            for m in re.finditer(p, text):
                events.update(g for g in m.groups() if g)
    listed = set(re.findall(r"^\.B ([a-z_]+)$", section(page, "LOG EVENTS"), re.M))
    t.ok(len(events) > 100 and events <= listed,
         "every log event the sources write is in LOG EVENTS (%d)" % len(events), sorted(events - listed))
    t.eq(sorted(listed - events), [], "and LOG EVENTS lists none that no source writes")

    usage = subprocess.run([SANDHOOK, "--help"], capture_output=True, text=True).stdout
    subs = sorted(set(re.findall(r"^\s+sandhook ([a-z]+)", usage, re.M)))
    synopsis = section(page, "SYNOPSIS").replace("\\-", "-")
    t.ok(len(subs) >= 8 and all(".B sandhook %s" % s in synopsis for s in subs),
         "every subcommand --help names is in the SYNOPSIS: %s" % " ".join(subs),
         [s for s in subs if ".B sandhook %s" % s not in synopsis])

    # The statuses chosen in code: set_reply's, webhook_http_status's and
    # the probes' (the "Status: %d" of the writers is the same number).
    codes = set()
    for text in sources("front"):
        for line in text.splitlines():
            if re.search(r"set_reply\(|return \d{3};|status = |\? \d{3} : ", line):
                codes.update(re.findall(r"\b([2-5]\d\d)\b", line))
    documented = set(re.findall(r"^\.B (\d{3})$", section(page, "HTTP STATUS"), re.M))
    t.ok(len(codes) >= 8 and codes == documented,
         "every HTTP status the front answers is in HTTP STATUS, and only those: %s"
         % " ".join(sorted(codes)), (sorted(codes), sorted(documented)))
    t.ok(set(re.findall(r"^\.B (\d)$", section(page, "EXIT STATUS"), re.M)) == {"0", "1", "2"},
         "EXIT STATUS explains 0, 1 and 2")

    with open(os.path.join(BUILD, "Makefile")) as f:
        mk = f.read()
    libexec = re.search(r"^pkglibexecdir = (\S+)", mk, re.M).group(1)
    t.ok("@" not in page and "/sandhook-drain" in page and "PKGLIBEXECDIR" not in page,
         "no placeholder is left: the paths are this build's (pkglibexecdir %s)" % libexec)
    if shutil.which("groff"):
        g = subprocess.run(["groff", "-man", "-ww", "-z", path], capture_output=True, text=True)
        t.ok(g.returncode == 0 and not g.stderr.strip(), "groff -ww reads it without a warning", g.stderr)
    else:
        print("# groff is not installed: the troff check is left out")
    t.done()


if __name__ == "__main__":
    main()
