#!/usr/bin/env python3
"""Behind a real nginx as a CGI program through fcgiwrap, with the shipped
location snippet: the CGI process lets go of stdout and stderr, so the POST
returns while the session runs.  See harness.check_front_server."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Scenario, Checks, Fcgiwrap, Nginx, check_front_server, final_checks,
                     need_root, write_config)

need_root()
t = Checks()
with Scenario() as sc:
    tmp, fake = sc.tmp, sc.fake
    cfg, state = write_config(tmp, fake.url)
    wrap = sc.add(Fcgiwrap(tmp))
    web = sc.add(Nginx(tmp, wrap.sock, config=cfg, keepalive=False))
    check_front_server(t, fake, state, web, "through nginx and fcgiwrap")
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgiwrap.err"))
t.done()
