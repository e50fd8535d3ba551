"""Many Daphne processes on one port: `python -m config.server --processes N …` (or
`PARLEY_WEB_PROCESSES=N`; `auto`: one per core this process may run on).

One process serves one core at most (the event loop and the ORM share a GIL), so a machine
of several cores runs several. This parent binds N listening sockets to the same address
with `SO_REUSEPORT` and starts N Parley servers (`config.server`, each on one socket by
`--fd`); the kernel spreads new connections over them by the connection's addresses. The
processes share nothing but Postgres and Redis, which is all a stream needs (a session
resumed on another process is taken over through the channel layer, docs/reliability.md).

Each server is pinned to a core of its own (round robin over the cores this process may use):
one process's threads hand the GIL to each other more cheaply on one core.

The parent restarts a server that exits (its socket stays open meanwhile, so connections
wait in its queue instead of being refused), and on SIGTERM or SIGINT passes SIGTERM on to
every server (each closes its sockets with 1001, config/shutdown.py) and waits for them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

logger = logging.getLogger("parley.server")

STOP_WAIT_S = 15.0
RESTART_PAUSE_S = 1.0
BACKLOG = 1024


def process_count(value: str | None) -> int:
    """`auto` (or 0): one per core available to this process; else the number given."""
    if value is None or value == "":
        return 1
    if value == "auto" or value == "0":
        return len(os.sched_getaffinity(0))
    count = int(value)
    if count < 1:
        raise ValueError(f"processes must be at least 1 or 'auto', not {value!r}")
    return count


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on (host, port), each inheritable, sharing it by
    SO_REUSEPORT (the kernel balances connections over them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(BACKLOG)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


class Workers:
    """N Parley servers, one listening socket each; restarted when one exits."""

    def __init__(self, sockets: list[socket.socket], argv: list[str]) -> None:
        self.sockets, self.argv = sockets, argv
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * len(sockets)
        self.cores = sorted(os.sched_getaffinity(0))
        self.stopping = False

    def start(self, index: int) -> None:
        fd = self.sockets[index].fileno()
        command = [sys.executable, "-m", "config.server", "--processes", "1"]
        command += ["--fd", str(fd), *self.argv]
        process = subprocess.Popen(command, pass_fds=(fd,))
        self.processes[index] = process
        core = self.cores[index % len(self.cores)] if len(self.sockets) > 1 else None
        if core is not None:
            with contextlib.suppress(OSError):
                # A process's threads share one GIL: on one core, handing it between the
                # event loop and the DB threads costs less than across cores (measured).
                os.sched_setaffinity(process.pid, {core})
        logger.info("server %d started (pid %d, core %s)", index, process.pid, core)

    def run(self) -> int:
        for index in range(len(self.sockets)):
            self.start(index)
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        while not self.stopping:
            time.sleep(0.2)
            for index, process in enumerate(self.processes):
                if process is not None and process.poll() is not None and not self.stopping:
                    logger.warning(
                        "server %d (pid %d) exited with %s; restarting it",
                        index,
                        process.pid,
                        process.returncode,
                    )
                    time.sleep(RESTART_PAUSE_S)
                    self.start(index)
        return self.wait()

    def stop(self, signum: int, _frame: Any) -> None:
        if self.stopping:  # a second signal: stop at once
            for process in self.processes:
                if process is not None and process.poll() is None:
                    process.kill()
            return
        self.stopping = True
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        deadline = time.monotonic() + STOP_WAIT_S
        for process in self.processes:
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sock in self.sockets:
            sock.close()
        return 0


def serve(count: int, host: str, port: int, argv: list[str]) -> int:
    """Run `count` servers on (host, port) until SIGTERM/SIGINT; `argv`: Daphne's other
    options and the application, passed to each server."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    workers = Workers(listening_sockets(host, port, count), argv)
    logger.info("Parley: %d server processes on %s:%d", count, host, port)
    return workers.run()
