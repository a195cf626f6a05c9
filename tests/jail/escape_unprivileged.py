#!/usr/bin/env python3
"""The escape suite again with the responder running as nobody, the way
mod_fcgid runs it as Apache's user: the jail is then built without root,
from a user namespace of its own, and must hold just the same."""
import os
import runpy

os.environ["SANDHOOK_ESCAPE_AS"] = "nobody"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "escape.py"),
               run_name="__main__")
