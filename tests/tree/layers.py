#!/usr/bin/env python3
"""The tree shows the trust boundary, and the build holds it.

src/front, src/drain, src/jail and src/egress are four programs;
src/common is what they share.  Each folder includes only its own headers and common's, and
each program links only the libraries its part needs: the front (what an
internet client reaches) no HTTP client and no archive reader, the jail no
network client at all, the egress proxy nothing but libc and cJSON (it
holds no key and speaks to no API), and only the drainer libcurl.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import BUILD, TOP, Checks  # noqa: E402

PARTS = ("common", "front", "drain", "jail", "egress")


def includes(path):
    with open(path, encoding="utf-8") as f:
        return re.findall(r'^\s*#\s*include\s+"([^"]+)"', f.read(), re.M)


def needed(prog):
    out = subprocess.run(["readelf", "-d", prog], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))


def main():
    t = Checks()
    src = os.path.join(TOP, "src")
    t.eq(sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d))), sorted(PARTS),
         "src/ holds one folder per part and nothing else")
    t.eq(sorted(f for f in os.listdir(src) if f.endswith((".c", ".h"))), [],
         "no source file sits outside the parts")
    for part in PARTS:
        bad, seen = [], 0
        for root, _, files in os.walk(os.path.join(src, part)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(root, name)
                for inc in includes(path):
                    seen += 1
                    top = inc.split("/")[0]
                    allowed = ("common",) if part == "common" else ("common", part)
                    if "/" not in inc or top not in allowed:
                        bad.append("%s -> %s" % (os.path.relpath(path, TOP), inc))
        t.ok(seen > 0 and not bad, "src/%s includes only %s (%d includes)"
             % (part, "itself" if part == "common" else "itself and src/common", seen), bad)

    guards = []
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".h") or name in ("syscall-filter-bpf.h", "egress-filter-bpf.h"):
                continue
            want = "SANDHOOK_" + re.sub(r"[^A-Z0-9]", "_", name[:-2].upper()) + "_H"
            with open(os.path.join(root, name), encoding="utf-8") as f:
                got = re.search(r"^#ifndef (\w+)", f.read(), re.M)
            if not got or got.group(1) != want:
                guards.append("%s: %s" % (name, got.group(1) if got else None))
    t.ok(not guards, "every header's guard is named after its file", guards)

    progs = {"front": os.path.join(BUILD, "src", "sandhook"),
             "drain": os.path.join(BUILD, "src", "sandhook-drain"),
             "jail": os.path.join(BUILD, "src", "sandhook-jail"),
             "egress": os.path.join(BUILD, "src", "sandhook-egress")}
    libs = {k: needed(v) for k, v in progs.items()}
    has = lambda part, lib: any(n.startswith(lib + ".") for n in libs[part])  # noqa: E731
    t.ok(not has("front", "libcurl") and not has("front", "libarchive"),
         "the front links neither libcurl nor libarchive", sorted(libs["front"]))
    with open(os.path.join(BUILD, "Makefile")) as f:
        static_sha = re.search(r"^FRONT_CRYPTO_LIBS = .*libcrypto\.a", f.read(), re.M)
    if static_sha:
        t.ok(has("front", "libfcgi") and not has("front", "libcrypto"),
             "  ...it links libfcgi, and SHA-256 from libcrypto.a, not the shared libcrypto "
             "(whose loading cost a CGI request a millisecond)", sorted(libs["front"]))
    else:
        t.ok(has("front", "libfcgi") and has("front", "libcrypto"),
             "  ...it links libfcgi and libcrypto (configured --without-static-sha256)", sorted(libs["front"]))
    t.ok(has("drain", "libcurl") and not has("drain", "libfcgi") and not has("drain", "libpcre2-8"),
         "the drainer links libcurl, and neither the front's FastCGI nor the tools' PCRE2",
         sorted(libs["drain"]))
    t.ok(not has("jail", "libcurl") and not has("jail", "libcrypto") and not has("jail", "libfcgi"),
         "the jail links no HTTP client, no crypto library, no FastCGI", sorted(libs["jail"]))
    # A sanitizer build adds its runtimes (libasan, libubsan) to every program.
    t.ok(all(n.startswith(("libc.", "libcjson.", "libasan.", "libubsan.")) for n in libs["egress"]),
         "the egress proxy links libc and cJSON alone: no HTTP client, no crypto, no seccomp "
         "library (its filter is built in)", sorted(libs["egress"]))
    t.done()


if __name__ == "__main__":
    main()
