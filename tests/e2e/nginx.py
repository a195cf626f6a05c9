#!/usr/bin/env python3
"""Behind a real nginx, with the shipped location snippet, to sandhook's own
FastCGI pool (spawn-fcgi): see harness.check_front_server."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Scenario, Checks, FcgiPool, Nginx, check_front_server, final_checks,
                     need_root, posts_over_kept, write_config)

need_root()
t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    cfg, state = write_config(tmp, fake.url)
    pool = sc.add(FcgiPool(tmp, cfg))
    web = sc.add(Nginx(tmp, pool.sock))
    check_front_server(t, fake, state, web, "through nginx")

    statuses, before, after = posts_over_kept(web, pool.sock)
    t.eq(statuses, [200] * 20, "twenty webhooks one after another are answered")
    t.ok(before and after and after <= before,
         "  ...all went over the FastCGI connection nginx kept open, as shipped: none was made for them",
         (before, after))
    for path in ("/hooks/sandhook?x=1", "/hooks/sandhookx"):
        st, _, _, _ = web.post(path, b"{}", {"Content-Type": "application/json"})
        t.ok(not 300 <= st < 400, "%s answers %d, never a 3xx" % (path, st))
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgi.err"))
t.done()
