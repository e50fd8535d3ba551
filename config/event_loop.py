"""Which asyncio event loop the app server runs on: `PARLEY_EVENT_LOOP`, `uvloop` (the
default) or `asyncio` (the standard library's).

Daphne runs Twisted on an asyncio loop that it makes when `daphne.server` is first imported,
so the choice is made before that import (config/server.py, run as the server). uvloop's
loop is libuv's, in C: a turn of the loop that wakes one task through a queue cost 7.1 µs
against 12.7 µs on the standard loop here, and every streaming learner wakes several tasks
per audio frame (docs/performance.md, issue 19's sixth round). Twisted still reads and
writes its own sockets; the ASR and Redis clients' connections become uvloop's transports.
"""

from __future__ import annotations

import asyncio
import os

EVENT_LOOPS = ("uvloop", "asyncio")


def event_loop_choice() -> str:
    """PARLEY_EVENT_LOOP, checked; SystemExit with the choices when it names none of them."""
    choice = os.environ.get("PARLEY_EVENT_LOOP", "").strip().lower() or EVENT_LOOPS[0]
    if choice not in EVENT_LOOPS:
        raise SystemExit(f"PARLEY_EVENT_LOOP={choice!r}: choose one of {', '.join(EVENT_LOOPS)}.")
    return choice


def event_loop_install() -> str:
    """Make the chosen loop the one `asyncio.new_event_loop()` returns; which it is."""
    choice = event_loop_choice()
    if choice == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return choice
