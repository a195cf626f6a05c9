#!/usr/bin/env python3
"""Behind a real nginx as a CGI program through fcgiwrap, with the shipped
location snippet: the CGI process lets go of stdout and stderr, so the POST
returns while the session runs.  See harness.check_front_server."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Checks, Fake, Fcgiwrap, Nginx, check_front_server, final_checks, free_tmp,
                     need_root, write_config)

need_root()
t = Checks()
tmp = free_tmp()
fake = Fake(tmp)
wrap = web = None
try:
    cfg, state = write_config(tmp, fake.url)
    wrap = Fcgiwrap(tmp)
    web = Nginx(tmp, wrap.sock, config=cfg)
    check_front_server(t, fake, state, web, "through nginx and fcgiwrap")
    final_checks(t, fake, os.path.join(state, "sandhook.log"), os.path.join(tmp, "fcgiwrap.err"))
finally:
    if web:
        web.stop()
    if wrap:
        wrap.stop()
    fake.stop()
t.done()
