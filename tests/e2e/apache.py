#!/usr/bin/env python3
"""Behind a real Apache with mod_proxy_fcgi and the shipped example, to
sandhook's own FastCGI pool: see harness.check_front_server."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Scenario, Apache, Checks, FcgiPool, check_front_server, final_checks,
                     need_root, sign, unix_connections, write_config)

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
    def kept():
        return {ino for path, ino, _, _ in unix_connections() if path == pool.sock}

    def idled(i):
        body = json.dumps({"type": "event", "id": "whe_kept_%d" % i, "created_at": "x",
                           "data": {"type": "session.status_idled", "id": "s"}}).encode()
        return web.post("/hooks/sandhook", body, sign(body, "whe_kept_%d" % i))[0]
    before = kept()
    t.eq([idled(i) for i in range(20)], [200] * 20, "twenty webhooks one after another are answered")
    after = kept()
    t.ok(before and after and len(after - before) < 20,
         "  ...over connections Apache kept open to the pool, not one made for each (%d kept before, "
         "%d new)" % (len(before), len(after - before)))
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgi.err"))
t.done()
