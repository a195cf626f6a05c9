#!/usr/bin/env python3
"""Behind a real Apache with mod_proxy_fcgi and the shipped example, to
sandhook's own FastCGI pool: see harness.check_front_server."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Scenario, Apache, Checks, FcgiPool, check_front_server, final_checks,
                     need_root, posts_over_kept, write_config)

need_root()
t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    cfg, state = write_config(tmp, fake.url)
    pool = sc.add(FcgiPool(tmp, cfg))
    web = sc.add(Apache(tmp, "sandhook-proxy-fcgi.conf", {"/run/sandhook/fcgi.sock": pool.sock},
                        ["proxy", "proxy_fcgi"]))
    check_front_server(t, fake, state, web, "through Apache")

    # enablereuse=on, as shipped: Apache keeps its connections to the pool
    # for the next request, as nginx does, instead of one per webhook.
    statuses, before, after = posts_over_kept(web, pool.sock)
    t.eq(statuses, [200] * 20, "twenty webhooks one after another are answered")
    t.ok(before and after and len(after - before) < 20,
         "  ...over connections Apache kept open to the pool, not one made for each (%d kept before, "
         "%d new)" % (len(before), len(after - before)))
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgi.err"))
t.done()
