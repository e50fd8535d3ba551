"""Capacity: how many live learners one server process holds, beside a bare Channels consumer.

    python -m bench.capacity [--quick] [--server daphne|uvicorn] [--doc]

Everything runs on loopback and stops by itself (steps are bounded in connections and
seconds; a target leaves the ramp once its ping p99 passes `--p99-stop-ms` at `--strikes`
steps in a row, two by default, since the cores are shared; the ramp ends with the last):

- a scripted WhisperLive peer process (`tests/asr/whisperlive_peer.ScriptedPeer`): a partial
  every 0.5 s of audio, and every evaluation and final pass answers the turn's first accepted
  answer, heard clearly, at once, so Whisper's cost is out of the picture;
- one app server (the run command's, `python -m config.server`, `--processes N` of them;
  plain Daphne with `--server daphne`, uvicorn with `--server uvicorn`) serving
  `bench.capacity_asgi`: Parley's `/stream/interaction` and the bare Channels echo consumer
  `/bench/echo` in the same process, on real Postgres and Redis;
- a raw `websockets` echo server process (the same echo, no ASGI, no Channels): the ceiling;
- load processes (`--load-procs`), each running its share of N learners: a learner connects
  with its API token, starts a session, streams an espeak-ng clip in 100 ms pcm_s16le frames
  at real-time pace, sends the stop gesture, waits for the verdict, streams 1 s of silence
  (reading the next prompt), and so on; a new session when one completes; a ping every
  second throughout.

Steps: 10 → 25 → 50 → 100 → 200 → 400 → 700 → 1,000 concurrent learners (`--quick`: 10 → 25
→ 50 → 100, shorter); at each step Parley and the bare consumer alternate (which goes first
alternates too), then the raw server. Per step and target: ping RTT p50/p99 (and the p99
apart of the pings a learner sent while its session opened, between its start and its
`ready`, and of the rest), lost pongs, start → `ready` p99, stop → verdict latency, errors
by code, server CPU (% of one core) and RSS, Postgres CPU (every backend of the server:
other databases' work counts too), events stored vs received, ledger checks. With `--cpus`
(default on a machine of 2+ cores) the app and raw servers run on core 0 and the load, the
peer on the others; Postgres and Redis float.

Rows: `bench/results/capacity[_<server>].json`; `--doc` rewrites the table in
docs/performance.md and the plot `docs/img/capacity.svg`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.live import free_port, port_open  # noqa: E402  (the tests' own port helpers)

STEPS = (10, 25, 50, 100, 200, 400, 700, 1_000)
QUICK_STEPS = (10, 25, 50, 100)
TARGETS = ("parley", "bare", "raw")
FRAME_S = 0.1
RATE = 16_000
CLIP_TEXT = "Je voudrais un café"  # no pause inside: one utterance, judged at the stop
SCENARIO = "cafe-paris"
VERDICTS = ("final", "penalty", "reset")
PARTIAL_EVERY_BYTES = 32_000  # 0.5 s of the float32 audio the app relays
DOC = REPO / "docs" / "performance.md"
PLOT = REPO / "docs" / "img" / "capacity.svg"
DOC_BEGIN, DOC_END = "<!-- capacity:begin -->", "<!-- capacity:end -->"
CLK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the ASR peer

_conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar("uid", default=None)


def run_peer(port: int) -> None:
    from tests.asr.whisperlive_peer import Connection, Script, ScriptedPeer, evidence_payload

    class Open:
        """The peer's conversations in progress, by uid (ScriptedPeer keeps every one)."""

        def __init__(self) -> None:
            self.by_uid: dict[str, Connection] = {}

        def append(self, conn: Connection) -> None:
            # A kept connection's next utterance: its handler's previous one is over (after
            # a final or a cancel).
            self.by_uid.pop(_conversation.get() or "", None)
            uid = str(conn.options.get("uid"))
            self.by_uid[uid] = conn
            _conversation.set(uid)  # the handler's own context: read back in _handle

    def heard(conn: Connection | None) -> dict[str, Any]:
        parley = (conn.options.get("parley") if conn else None) or {}
        answers = parley.get("candidates") or ["je voudrais un café"]
        target = parley.get("target_language") or "fr"
        others = [x for x in parley.get("other_languages") or ["en"] if x != target]
        text = answers[0]
        body = evidence_payload(
            text,
            probabilities=tuple(0.95 for _ in text.split()),
            language_probabilities={target: 0.97, **dict.fromkeys(others, 0.01)},
            answers={text: -0.05},
            transcript_logprob=-0.05,
            audio_s=(conn.audio_bytes / 4 / RATE) if conn else 2.0,
        )
        return body | {"target_language": target, "other_languages": others}

    conversations = Open()

    def segments(received: int) -> list[dict[str, Any]] | None:
        """A partial each time the audio passes another PARTIAL_EVERY_BYTES, however the app
        chunks what it relays (a recogniser revises on the audio it has, not per frame)."""
        conn = conversations.by_uid.get(_conversation.get() or "")
        last = len(conn.frames[-1]) if conn is not None and conn.frames else 0
        if received // PARTIAL_EVERY_BYTES == (received - last) // PARTIAL_EVERY_BYTES:
            return None
        seconds = received / 4 / RATE
        return [{"text": "je voudrais", "start": "0.000", "end": f"{seconds:.3f}"}]

    class BenchPeer(ScriptedPeer):
        async def _handle(self, ws: Any) -> None:
            try:
                await super()._handle(ws)
            finally:
                self.connections.by_uid.pop(_conversation.get() or "", None)  # type: ignore[attr-defined]

        async def _evaluate(self, ws: Any, uid: str, conn: Connection, request: Any) -> None:
            reply = {"uid": uid, "type": "parley.evidence", "id": request["id"]}
            await ws.send(json.dumps(reply | {"evidence": heard(conn), "asr_ms": 1}))

        async def _end(self, ws: Any, uid: str, conn: Connection) -> bool:
            """The final; the connection kept for the next utterance when the client asks,
            as Parley's server keeps it."""
            await ws.send(json.dumps({"uid": uid, "type": "parley.final", "evidence": heard(conn)}))
            if conn.reuse:
                return True
            await ws.close()
            return False

    async def main() -> None:
        from websockets.asyncio.server import serve

        peer = BenchPeer(Script(segments=segments))
        peer.connections = conversations  # type: ignore[assignment]
        async with serve(peer._handle, "127.0.0.1", port, compression=None, max_size=2**22):
            print("peer ready", flush=True)
            await asyncio.Future()

    asyncio.run(main())


# --------------------------------------------------------------------------- the raw ceiling


def run_raw(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                if isinstance(frame, bytes):
                    continue
                message = json.loads(frame)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong", "t": message.get("t")}))
                elif kind == "start":
                    await ws.send(json.dumps({"type": "ready", "seq": 0, "session": None}))
                elif kind == "stop":
                    await ws.send(json.dumps({"type": "final", "seq": 0, "status": "active"}))

    async def main() -> None:
        async with serve(echo, "127.0.0.1", port, compression=None, max_size=2**20):
            print("raw ready", flush=True)
            await asyncio.Future()

    asyncio.run(main())


# --------------------------------------------------------------------------- the learners


class Learner:
    """One learner's connections over a step; what it saw goes into `tally`."""

    def __init__(self, spec: dict[str, Any], token: str, clip: bytes, tally: Tally) -> None:
        self.spec, self.token, self.clip, self.tally = spec, token, clip, tally

    async def run(self, deadline: float) -> None:
        from websockets.asyncio.client import connect

        url = self.spec["url"] + (f"?token={self.token}" if self.spec["auth"] else "")
        await asyncio.sleep(random.uniform(0, self.spec["connect_s"]))
        while time.monotonic() < deadline:
            opened = time.monotonic()
            try:
                ws = await connect(
                    url,
                    origin=self.spec["origin"],
                    compression=None,
                    open_timeout=10,
                    ping_interval=None,
                    max_size=2**20,
                )
            except Exception as failure:  # any refusal is a counted error
                self.tally.errors[f"connect:{type(failure).__name__}"] += 1
                await asyncio.sleep(1)
                continue
            self.tally.handshake_ms.append(1000 * (time.monotonic() - opened))
            try:
                again = await Conversation(self, ws).run(deadline)
            finally:
                await ws.close()
            if not again:
                return


class Conversation:
    """One connection: a session, answers until it ends or the step does, pings throughout."""

    def __init__(self, learner: Learner, ws: Any) -> None:
        self.learner, self.ws, self.tally = learner, ws, learner.tally
        self.pending: dict[float, float] = {}  # ping t → sent at
        self.opening: set[float] = set()  # pings sent before the session's `ready`
        self.ready = False
        self.events: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.session: str | None = None
        self.seqs: list[int] = []
        self.last_event_at = time.monotonic()

    async def run(self, deadline: float) -> bool:
        """Whether the learner should open another connection (its session ended)."""
        reader = asyncio.create_task(self._read())
        pinger = asyncio.create_task(
            asyncio.sleep(0) if self.learner.spec.get("idle") else self._ping()
        )
        try:
            return await self._play(deadline)
        except (TimeoutError, ConnectionError, OSError) as failure:
            self.tally.errors[f"client:{type(failure).__name__}"] += 1
            await asyncio.sleep(1)
            return True
        except Exception as failure:  # a closed socket, mostly
            code = getattr(getattr(failure, "rcvd", None), "code", None)
            self.tally.errors[f"closed:{code}"] += 1
            await asyncio.sleep(1)
            return True
        finally:
            pinger.cancel()
            await self._drain(reader)
            self.tally.pings_lost += len(self.pending)
            reader.cancel()
            if self.session:
                self.tally.sessions[self.session] = self.tally.sessions.get(self.session, 0) + len(
                    set(self.seqs)
                )
                if sorted(set(self.seqs)) != list(range(min(self.seqs), max(self.seqs) + 1)):
                    self.tally.errors["seq_gap"] += 1

    async def _play(self, deadline: float) -> bool:
        asked = time.monotonic()
        await self.ws.send(json.dumps({"type": "start", "scenario": SCENARIO}))
        at, ready = await self._next(("ready", "error"), within=10)
        self.tally.ready_ms.append(1000 * (at - asked))
        if ready["type"] == "error":
            self.tally.errors[ready["code"]] += 1
            await asyncio.sleep(1)
            return True
        self.tally.ready += 1
        self.ready = True
        self.session = ready.get("session")
        if self.learner.spec.get("idle"):  # a session open, nothing said, until the end
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            return False
        while time.monotonic() < deadline:
            await self._stream(self.learner.clip)
            stopped = time.monotonic()
            await self.ws.send(json.dumps({"type": "stop"}))
            at, verdict = await self._next(VERDICTS, within=15)
            if verdict["type"] == "penalty" and verdict.get("status") == "failed":
                at, verdict = await self._next(("final",), within=15)
            if at < stopped:
                self.tally.early += 1  # committed after a pause inside the clip
            self.tally.verdict_ms.append(max(0.0, 1000 * (at - stopped)))
            self.tally.outcomes[verdict.get("outcome") or verdict.get("reason") or "?"] += 1
            if verdict.get("status") in ("completed", "failed"):
                return True
            await self._stream(bytes(2 * RATE))  # a second of silence: the next prompt
        return False

    async def _stream(self, pcm: bytes) -> None:
        step = int(2 * RATE * FRAME_S)
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), step)):
            await self.ws.send(pcm[offset : offset + step])
            self.tally.frames += 1
            delay = started + (index + 1) * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _drain(self, reader: asyncio.Task[None]) -> None:
        """Before closing: the pongs still due, and events still on the way (2 s at most)."""
        give_up = time.monotonic() + 2
        while time.monotonic() < give_up and not reader.done():
            quiet = time.monotonic() - self.last_event_at > 0.3
            if quiet and not self.pending:
                return
            await asyncio.sleep(0.05)  # two conditions, bounded

    async def _next(self, types: tuple[str, ...], *, within: float) -> tuple[float, dict]:
        give_up = time.monotonic() + within
        while True:
            at, event = await asyncio.wait_for(self.events.get(), give_up - time.monotonic())
            if event["type"] == "error" and "error" not in types:
                self.tally.errors[event.get("code", "?")] += 1
                continue
            if event["type"] in types:
                return at, event

    async def _ping(self) -> None:
        while True:
            t = time.monotonic()
            self.pending[t] = t
            if not self.ready:
                self.opening.add(t)
            self.tally.pings += 1
            await self.ws.send(json.dumps({"type": "ping", "t": t}))
            await asyncio.sleep(1.0)

    async def _read(self) -> None:
        async for raw in self.ws:
            now = self.last_event_at = time.monotonic()
            event = json.loads(raw)
            if event.get("type") == "pong":
                sent = self.pending.pop(event.get("t"), None)
                if sent is not None:
                    self.tally.rtt_ms.append(1000 * (now - sent))
                    opening = sent in self.opening
                    (self.tally.rtt_opening_ms if opening else self.tally.rtt_playing_ms).append(
                        1000 * (now - sent)
                    )
                continue
            if event.get("seq") and event.get("session"):
                self.seqs.append(event["seq"])
            if event.get("type") == "error":
                pass  # counted where it is awaited
            self.events.put_nowait((now, event))


class Tally:
    def __init__(self) -> None:
        self.rtt_ms: list[float] = []
        self.rtt_opening_ms: list[float] = []  # the pings sent before the session was ready
        self.rtt_playing_ms: list[float] = []  # and those sent after
        self.verdict_ms: list[float] = []
        self.handshake_ms: list[float] = []
        self.ready_ms: list[float] = []  # a start sent → its `ready` (or error) received
        self.errors: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.sessions: dict[str, int] = {}  # session → events received
        self.pings = self.pings_lost = self.frames = self.ready = self.early = 0


def run_load(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    with wave.open(spec["clip"], "rb") as clip_file:
        clip = clip_file.readframes(clip_file.getnframes())
    tally = Tally()

    async def main() -> None:
        deadline = time.monotonic() + spec["connect_s"] + spec["duration_s"]
        learners = [Learner(spec, token, clip, tally) for token in spec["tokens"]]
        await asyncio.gather(*(learner.run(deadline) for learner in learners))

    cpu0, wall0 = time.process_time(), time.monotonic()
    asyncio.run(main())
    result = {key: value for key, value in vars(tally).items()}
    result["cpu_pct"] = 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0)
    Path(out_path).write_text(json.dumps(result))


# --------------------------------------------------------------------------- the conductor


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (utime is [11], stime [12])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_s(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def sys_s(pid: int) -> float:
    """The kernel's share of `cpu_s`: system calls (socket sends and receives) and switches."""
    return int(_stat(pid)[12]) / CLK


def switches(pid: int) -> int:
    """Context switches of all the process's threads (the GIL's hand-offs among them)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (the run command's server processes under their parent)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            todo += [int(child) for child in children]
    return pids


def tree_sum(pid: int, measure: Callable[[int], float]) -> float:
    """`measure` summed over `pid` and its descendants (one that has just exited counts 0)."""
    total = 0.0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            total += measure(member)
    return total


def tree_cpu_s(pid: int) -> float:
    return tree_sum(pid, cpu_s)


def tree_rss_mb(pid: int) -> float:
    return tree_sum(pid, rss_mb)


def postgres_cpu_s() -> float:
    """CPU seconds of every postgres process, the postmaster's reaped backends included."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = raw.split("(", 1)[1].rsplit(")", 1)
        if name != "postgres":
            continue
        fields = rest.split()
        total += int(fields[11]) + int(fields[12])
        if fields[1] == "1" or not Path(f"/proc/{fields[1]}").exists():  # the postmaster
            total += int(fields[13]) + int(fields[14])  # cutime + cstime
    return total / CLK


def pin(pid: int, cpus: set[int] | None) -> None:
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)


class Proc:
    def __init__(self, command: list[str], log: Path, env: dict[str, str], cpus: set[int] | None):
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        pin(self.process.pid, cpus)

    def wait_for(self, ready: Any, what: str, timeout: float = 90) -> None:
        give_up = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > give_up:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{what} did not start:\n{tail}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def prepare(max_learners: int, workdir: Path) -> tuple[list[str], Path]:
    """Migrated database, demo scenarios, `max_learners` learners with tokens; the clip."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("migrate", interactive=False, verbosity=0)
    call_command("import_scenarios", demo=True, verbosity=0)
    users = get_user_model()
    names = [f"capacity-{i:04d}" for i in range(max_learners)]
    have = set(users.objects.filter(username__in=names).values_list("username", flat=True))
    fresh = [users(username=name) for name in names if name not in have]
    for user in fresh:
        user.set_unusable_password()
    users.objects.bulk_create(fresh)
    tokens = []
    for user in users.objects.filter(username__in=names).order_by("username"):
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    wav = workdir / "clip.wav"
    subprocess.run(
        ["espeak-ng", "-v", "fr", "-s", "150", "-w", str(workdir / "raw.wav"), CLIP_TEXT],
        check=True,
    )
    subprocess.run(
        # 16 kHz mono s16, the trailing silence cut (the stop follows the last word)
        [
            *("sox", str(workdir / "raw.wav"), "-r", "16000", "-c", "1", "-b", "16", str(wav)),
            *("reverse", "silence", "1", "0.02", "1%", "reverse"),
        ],
        check=True,
    )
    return tokens, wav


def db_checks(received: dict[str, int], verdicts: int) -> dict[str, Any]:
    """Events stored vs received, and each session's standing against its ledger."""
    from django.db.models import Count, Sum

    from interaction.models import Attempt, Session, SessionEvent

    ids = list(received)
    stored = SessionEvent.objects.filter(session_id__in=ids).count()
    sessions = Session.objects.filter(id__in=ids).annotate(
        ledger_score=Sum("ledger__score_delta"),
        ledger_lives=Sum("ledger__lives_delta"),
        entries=Count("ledger"),
    )
    stored_by = {
        str(key): n
        for key, n in SessionEvent.objects.filter(session_id__in=ids)
        .values("session_id")
        .annotate(n=Count("id"))
        .values_list("session_id", "n")
    }
    differ = {
        key: (count, stored_by.get(key, 0))
        for key, count in received.items()
        if stored_by.get(key, 0) != count
    }
    bad = [
        s.id
        for s in sessions
        if s.score != (s.ledger_score or 0) or s.lives_remaining != (s.ledger_lives or 0)
    ]
    attempts = Attempt.objects.filter(session_id__in=ids).count()
    return {
        "events_received": sum(received.values()),
        "events_stored": stored,
        "ledger_mismatches": len(bad),
        "events_differ": {str(k): v for k, v in list(differ.items())[:10]},  # received, stored
        "attempts": attempts,
        "verdicts_received": verdicts,
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


SERVING_ON = re.compile(r"serving on the (\w+) event loop")


def event_loops(log: Path) -> str | None:
    """The event loop(s) the run command's server processes said they serve on (comma-joined,
    one per kind); None from a server that does not say (plain Daphne, uvicorn). Timings
    compare only between runs on the same loop."""
    found = sorted(set(SERVING_ON.findall(log.read_text(errors="replace"))))
    return ", ".join(found) or None


def tracebacks(log: Path, offset: int) -> dict[str, int]:
    """Tracebacks the server logged since `offset`, by their last line (the exception)."""
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    found: Counter[str] = Counter()
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = next(
                (
                    lines[j]
                    for j in range(index + 1, len(lines))
                    if lines[j] and not lines[j].startswith((" ", "Traceback", "During", "The "))
                ),
                "?",
            )
            found[end[:120]] += 1
    return dict(found)


def start_profile(
    target: str, n: int, args: argparse.Namespace, ctx: dict[str, Any], *, idle: bool
) -> tuple[threading.Timer, list[Any], Path] | None:
    """py-spy on the app server over the step's streaming window (after the connects)."""
    if not args.profile or idle or target == "raw" or n not in args.profile_at:
        return None
    from bench.profile_stacks import record

    out = Path(args.profile) / f"{target}_{n}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    started: list[Any] = []

    def begin() -> None:
        spy = record(pid=ctx["app_pid"], seconds=args.step_s, out=out, children=args.processes > 1)
        pin(spy.pid, ctx["load_cpus"])
        started.append(spy)

    timer = threading.Timer(args.connect_s, begin)
    timer.start()
    return timer, started, out


def finish_profile(
    spy: tuple[threading.Timer, list[Any], Path], n: int, args: argparse.Namespace
) -> dict[str, Any] | None:
    from bench.profile_stacks import load, summary

    timer, started, out = spy
    timer.join()
    for process in started:
        process.wait(timeout=60)
    if not out.exists():
        return None
    return summary(load(out), learners=n, seconds=args.step_s)


def run_step(
    target: str, n: int, args: argparse.Namespace, ctx: dict[str, Any], *, idle: bool = False
) -> dict[str, Any]:
    paths = {"parley": "/stream/interaction", "bare": "/bench/echo"}
    port = ctx["raw_port"] if target == "raw" else ctx["app_port"]
    server_pid = ctx["raw_pid"] if target == "raw" else ctx["app_pid"]
    procs = max(1, min(args.load_procs, math.ceil(n / 50)))
    shares = [ctx["tokens"][i:n:procs] for i in range(procs)]
    workdir: Path = ctx["workdir"]
    outs, loaders = [], []
    app_log: Path = ctx["workdir"] / "app.log"
    log_from = app_log.stat().st_size if app_log.exists() else 0
    rss0, cpu0 = tree_rss_mb(server_pid), tree_cpu_s(server_pid)
    sys0, switches0 = tree_sum(server_pid, sys_s), tree_sum(server_pid, switches)
    pg0, t0 = postgres_cpu_s(), time.monotonic()
    for index, share in enumerate(shares):
        spec = {
            "url": f"ws://127.0.0.1:{port}{paths.get(target, '/')}",
            "origin": f"http://127.0.0.1:{port}",
            "auth": target == "parley",
            "tokens": share,
            "clip": str(ctx["clip"]),
            "connect_s": args.idle_connect_s if idle else args.connect_s,
            "duration_s": args.idle_hold_s if idle else args.step_s,
            "idle": idle,
        }
        spec_path, out = workdir / f"spec{index}.json", workdir / f"out{index}.json"
        spec_path.write_text(json.dumps(spec))
        out.unlink(missing_ok=True)
        outs.append(out)
        command = [
            sys.executable,
            "-m",
            "bench.capacity",
            "--role",
            "load",
            str(spec_path),
            str(out),
        ]
        loaders.append(Proc(command, workdir / "load.log", ctx["env"], ctx["load_cpus"]))
    spy = start_profile(target, n, args, ctx, idle=idle)
    peak = rss0
    while any(p.process.poll() is None for p in loaders):
        time.sleep(0.5)
        peak = max(peak, tree_rss_mb(server_pid))
        if time.monotonic() - t0 > args.connect_s + args.step_s + 60:
            for loader in loaders:
                loader.stop()
    wall = time.monotonic() - t0
    cpu, pg = tree_cpu_s(server_pid) - cpu0, postgres_cpu_s() - pg0
    kernel = tree_sum(server_pid, sys_s) - sys0
    switched = tree_sum(server_pid, switches) - switches0
    parts = [json.loads(out.read_text()) for out in outs if out.exists()]
    merged: dict[str, Any] = {"errors": Counter(), "outcomes": Counter(), "sessions": {}}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, dict) and key != "sessions":
                merged[key].update(value)
            elif key == "sessions":
                merged["sessions"].update(value)
            elif key != "cpu_pct":
                merged[key] = merged.get(key, 0) + value
    row: dict[str, Any] = {
        "target": target,
        "server": args.server,
        "learners": n,
        "load_procs": procs,
        "loaders_missing": len(outs) - len(parts),
        "wall_s": round(wall, 1),
        "rtt_p50_ms": percentile(merged.get("rtt_ms", []), 50),
        "rtt_p99_ms": percentile(merged.get("rtt_ms", []), 99),
        "opening_pings": len(merged.get("rtt_opening_ms", [])),
        "rtt_opening_p99_ms": percentile(merged.get("rtt_opening_ms", []), 99),
        "rtt_playing_p99_ms": percentile(merged.get("rtt_playing_ms", []), 99),
        "pings": merged.get("pings", 0),
        "pongs_lost": merged.get("pings_lost", 0),
        "verdict_p50_ms": percentile(merged.get("verdict_ms", []), 50),
        "verdict_p99_ms": percentile(merged.get("verdict_ms", []), 99),
        "verdicts": len(merged.get("verdict_ms", [])),
        "verdicts_before_stop": merged.get("early", 0),
        "handshake_p99_ms": percentile(merged.get("handshake_ms", []), 99),
        "ready_p99_ms": percentile(merged.get("ready_ms", []), 99),
        "connections": len(merged.get("handshake_ms", [])),
        "errors": dict(merged["errors"]),
        "outcomes": dict(merged["outcomes"]),
        "server_cpu_pct": round(100 * cpu / wall, 1),
        # CPU per second of audio the learners streamed: the cost of a learner, whatever
        # share of the core the server got (the cores are shared with other work)
        "server_cpu_ms_per_audio_s": round(
            1000 * cpu / max(1, merged.get("frames", 0) * FRAME_S), 2
        ),
        "server_cpu_s": round(cpu, 2),
        "server_sys_pct": round(100 * kernel / wall, 1),
        "server_switches_per_s": round(switched / wall),
        "server_rss_mb": round(tree_rss_mb(server_pid), 1),
        "server_peak_rss_mb": round(peak, 1),
        "server_rss_start_mb": round(rss0, 1),
        "ready": merged.get("ready", 0),
        "postgres_cpu_pct": round(100 * pg / wall, 1),
        "load_cpu_pct": round(sum(p.get("cpu_pct", 0) for p in parts), 1),
        "loadavg": os.getloadavg()[0],
    }
    if target != "raw":
        row["server_tracebacks"] = tracebacks(app_log, log_from)
        row["event_loop"] = event_loops(app_log)
    if spy is not None:
        row["profile"] = finish_profile(spy, n, args)
    if target == "parley":
        time.sleep(1.5)  # the last batched stores of connections that just closed
        row |= db_checks(merged["sessions"], row["verdicts"])
    return row


def summary_line(row: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"

    text = (
        f"{row['target']:>6} {row['learners']:>5}: ping {ms(row['rtt_p50_ms'])} / "
        f"{ms(row['rtt_p99_ms'])} ms, lost {row['pongs_lost']}/{row['pings']}, verdict "
        f"{ms(row['verdict_p50_ms'])} / {ms(row['verdict_p99_ms'])} ms (n {row['verdicts']}), "
        f"cpu {row['server_cpu_pct']} % (sys {row['server_sys_pct']} %, "
        f"{row['server_switches_per_s']} switches/s), pg {row['postgres_cpu_pct']} %, rss "
        f"{row['server_rss_mb']} MB, load cpu {row['load_cpu_pct']} %, errors {row['errors']}"
    )
    if row.get("opening_pings"):
        text += (
            f", ping p99 while opening {ms(row['rtt_opening_p99_ms'])} ms "
            f"(n {row['opening_pings']}), after {ms(row['rtt_playing_p99_ms'])} ms, "
            f"ready p99 {ms(row['ready_p99_ms'])} ms"
        )
    if "events_stored" in row:
        text += (
            f", events {row['events_stored']}/{row['events_received']}, "
            f"ledger bad {row['ledger_mismatches']}, attempts {row['attempts']}/{row['verdicts']}"
        )
    if row.get("server_tracebacks"):
        text += f", server tracebacks {row['server_tracebacks']}"
    if row.get("event_loop"):
        text += f", loop {row['event_loop']}"
    return text


def conduct(args: argparse.Namespace) -> list[dict[str, Any]]:
    default = QUICK_STEPS if args.quick else STEPS
    steps = list(args.steps if args.steps is not None else default)
    steps = [n for n in steps if n <= args.max_learners]
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = {cpus[0]} if args.cpus and len(cpus) > 1 else None
    load_cpus = set(cpus[1:]) if server_cpus else None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        tokens, clip = prepare(max([*steps, args.idle]), workdir)
        peer_port, app_port, raw_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "config.settings.local"
            ),
            "DEBUG": "0",
            "ASR_SERVERS": f"ws://127.0.0.1:{peer_port}",
            **dict(item.split("=", 1) for item in args.env),
        }
        me = [sys.executable, "-m", "bench.capacity", "--role"]
        peer = Proc([*me, "peer", str(peer_port)], workdir / "peer.log", env, load_cpus)
        raw = Proc([*me, "raw", str(raw_port)], workdir / "raw.log", env, server_cpus)
        if args.server == "uvicorn":
            serve = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port"]
            serve += [str(app_port), "--ws", "websockets", "--lifespan", "off"]
        elif args.server == "parley":  # the run command's server, N processes on one port
            serve = [sys.executable, "-m", "config.server", "--processes", str(args.processes)]
            serve += ["-b", "127.0.0.1", "-p", str(app_port)]
        else:
            serve = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(app_port)]
        app = Proc(
            [*serve, "bench.capacity_asgi:application"],
            workdir / "app.log",
            env,
            server_cpus if args.processes == 1 else None,  # N processes: the cores they like
        )
        try:
            peer.wait_for(lambda: "peer ready" in peer.log.read_text(), "the ASR peer")
            raw.wait_for(lambda: port_open(raw_port), "the raw server")
            app.wait_for(lambda: port_open(app_port), "the app server")
            ctx = {
                "tokens": tokens,
                "clip": clip,
                "workdir": workdir,
                "env": env,
                "load_cpus": load_cpus,
                "app_port": app_port,
                "raw_port": raw_port,
                "app_pid": app.process.pid,
                "raw_pid": raw.process.pid,
            }
            alive = [t for t in TARGETS if t in args.targets]
            strikes = Counter[str]()
            for index, n in enumerate(steps):
                order = [t for t in alive if t != "raw"]
                order = order if index % 2 == 0 else order[::-1]
                order += [t for t in alive if t == "raw"]
                for target in order:
                    row = run_step(target, n, args, ctx)
                    rows.append(row)
                    print(summary_line(row), flush=True)
                    p99 = row["rtt_p99_ms"]
                    over = p99 is None or p99 > args.p99_stop_ms
                    strikes[target] = strikes[target] + 1 if over else 0
                    if strikes[target] >= args.strikes:
                        alive.remove(target)
                    time.sleep(2)
                if not alive:
                    break
            if args.idle:
                # bare first: its memory is not Parley's freed (or one target per process)
                for target in [t for t in ("bare", "parley") if t in args.targets]:
                    time.sleep(2)
                    row = run_step(target, args.idle, args, ctx, idle=True)
                    rows.append(row | {"idle": True})
                    print("idle", summary_line(row), flush=True)
        finally:
            app.stop()
            raw.stop()
            peer.stop()
            if args.keep_logs:
                for name in ("app.log", "peer.log", "load.log"):
                    with contextlib.suppress(OSError):
                        (Path(args.keep_logs) / name).write_bytes((workdir / name).read_bytes())
    return rows


# --------------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def per_audio_s(row: dict[str, Any]) -> str:
    """' (N ms/s)': server CPU per second of audio streamed, where the row has it."""
    value = row.get("server_cpu_ms_per_audio_s")
    return "" if value is None else f" ({value:.1f} ms/s)"


def table(rows: list[dict[str, Any]]) -> str:
    rows = [r for r in rows if not r.get("idle")]
    by = {(r["target"], r["learners"]): r for r in rows}
    lines = [
        "| learners | Parley ping p50 / p99 | lost pongs | verdict p50 / p99 | Parley CPU / "
        "Postgres CPU / RSS | events stored / received, ledger | errors | bare ping p50 / p99 "
        "| bare CPU | raw ping p50 / p99 | p99 Parley ÷ bare |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({r["learners"] for r in rows}):
        p, b, w = by.get(("parley", n)), by.get(("bare", n)), by.get(("raw", n))
        cells = [str(n)]
        if p:
            cells += [
                f"{_ms(p['rtt_p50_ms'])} / {_ms(p['rtt_p99_ms'])} ms",
                f"{p['pongs_lost']} of {p['pings']}",
                f"{_ms(p['verdict_p50_ms'])} / {_ms(p['verdict_p99_ms'])} ms (n {p['verdicts']})",
                f"{p['server_cpu_pct']:.0f} %{per_audio_s(p)} / {p['postgres_cpu_pct']:.0f} % / "
                f"{p['server_rss_mb']:.0f} MB",
                f"{p['events_stored']} / {p['events_received']}, "
                + ("ok" if not p["ledger_mismatches"] else f"{p['ledger_mismatches']} bad"),
                ", ".join(
                    [f"{k} {v}" for k, v in sorted(p["errors"].items())]
                    + [f"traceback {v}" for v in (p.get("server_tracebacks") or {}).values()]
                )
                or "none",
            ]
        else:
            cells += ["—"] * 6
        cells += (
            [
                f"{_ms(b['rtt_p50_ms'])} / {_ms(b['rtt_p99_ms'])} ms",
                f"{b['server_cpu_pct']:.0f} %{per_audio_s(b)}",
            ]
            if b
            else ["—", "—"]
        )
        cells.append(f"{_ms(w['rtt_p50_ms'])} / {_ms(w['rtt_p99_ms'])} ms" if w else "—")
        ratio = (
            f"{p['rtt_p99_ms'] / b['rtt_p99_ms']:.1f}×"
            if p and b and p["rtt_p99_ms"] and b["rtt_p99_ms"]
            else "—"
        )
        cells.append(ratio)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Ping p99 against learners, log-log, a line per run and target: a hand-written SVG."""
    width, height, left, bottom, top, right = 720, 380, 60, 40, 30, 220
    rows = [row for run in runs for row in run["rows"] if not row.get("idle")]
    xs = sorted({r["learners"] for r in rows})
    lo_x, hi_x = math.log10(min(xs)), math.log10(max(max(xs), min(xs) * 10))
    lo_y, hi_y = 0.0, 4.0  # 1 ms … 10 s

    def px(n: float) -> float:
        return left + (math.log10(n) - lo_x) / (hi_x - lo_x) * (width - left - right)

    def py(ms: float) -> float:
        value = min(max(math.log10(max(ms, 1.0)), lo_y), hi_y)
        return height - bottom - (value - lo_y) / (hi_y - lo_y) * (height - bottom - top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="13">ping RTT p99 against concurrent learners, '
        "one server process (dashed: 100 ms)</text>",
    ]
    for ms in (1, 10, 100, 1000, 10000):
        y = py(ms)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{ms:,} ms</text>')
    for n in xs:
        x = px(n)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>')
        parts.append(f'<text x="{x}" y="{height - bottom + 14}" text-anchor="middle">{n}</text>')
    parts.append(
        f'<text x="{(width - right + left) / 2}" y="{height - 8}" text-anchor="middle">'
        "concurrent learners (log)</text>"
    )
    y100 = py(100)
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{y100}" y2="{y100}" stroke="#999" '
        'stroke-dasharray="4 3"/>'
    )
    colours = {"parley": "#c0392b", "bare": "#2471a3", "raw": "#7d7d7d"}
    dashes = ["", "2 3", "8 4", "1 2", "12 3 2 3", "4 2 1 2"]  # one per run
    legend = 0
    for number, run in enumerate(runs):
        dash = dashes[number % len(dashes)]
        label = run.get("short") or (run.get("label") or run["args"]["server"])[:28]
        for target in TARGETS:
            points = [
                (px(r["learners"]), py(r["rtt_p99_ms"]))
                for r in sorted(run["rows"], key=lambda r: r["learners"])
                if r["target"] == target and r["rtt_p99_ms"] is not None and not r.get("idle")
            ]
            if not points:
                continue
            colour = colours[target]
            style = f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"'
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{line}" fill="none" {style}/>')
            parts += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points
            ]
            ly = top + 16 * legend + 10
            parts.append(
                f'<line x1="{width - right + 10}" x2="{width - right + 28}" y1="{ly}" y2="{ly}" '
                f"{style}/>"
            )
            parts.append(f'<text x="{width - right + 32}" y="{ly + 4}">{target}, {label}</text>')
            legend += 1
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")


def run_heading(run: dict[str, Any]) -> str:
    args, rows = run["args"], run["rows"]
    extra = " ".join(f"--env {item}" for item in args.get("env") or [])
    return (
        f"**{run.get('label') or 'this tree'}**: `python -m bench.capacity"
        f"{' --quick' if args.get('quick') else ''} --server {args['server']}"
        f"{' ' + extra if extra else ''}`, {args['step_s']:g} s per step after "
        f"{args['connect_s']:g} s of connecting, load average "
        f"{min(r['loadavg'] for r in rows):.1f}–{max(r['loadavg'] for r in rows):.1f}:"
    )


def write_doc(runs: list[dict[str, Any]]) -> None:
    """The tables of `runs` (stored results) between the markers in docs/performance.md."""
    text = DOC.read_text()
    tables = "\n\n".join(f"{run_heading(run)}\n\n{table(run['rows'])}" for run in runs)
    body = f"{DOC_BEGIN}\n{tables}\n\n![ping p99 against learners](img/{PLOT.name})\n{DOC_END}"
    if DOC_BEGIN in text:
        before, rest = text.split(DOC_BEGIN, 1)
        text = before + body + rest.split(DOC_END, 1)[1]
    else:
        text += "\n" + body + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="10 → 100 learners, 8 s steps")
    parser.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",") if x])
    parser.add_argument("--step-s", type=float, help="seconds each step streams (default 15)")
    parser.add_argument("--connect-s", type=float, default=3.0, help="connects spread over")
    parser.add_argument(
        "--server",
        choices=("parley", "daphne", "uvicorn"),
        default="parley",
        help="parley: the run command's server (config.server); daphne: plain Daphne",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="with --server parley: server processes"
    )
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--load-procs", type=int, default=2)
    parser.add_argument("--max-learners", type=int, default=1_000)
    parser.add_argument("--p99-stop-ms", type=float, default=1_000.0)
    parser.add_argument(
        "--strikes", type=int, default=2, help="steps in a row over --p99-stop-ms that end a target"
    )
    parser.add_argument("--no-cpus", dest="cpus", action="store_false", help="do not pin")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--idle", type=int, default=0, help="after the ramp: N idle sessions opening over 25 s"
    )
    parser.add_argument("--idle-connect-s", type=float, default=25.0)
    parser.add_argument("--idle-hold-s", type=float, default=10.0)
    parser.add_argument("--label", help="what tree or setting this run measures, for the report")
    parser.add_argument(
        "--profile", help="a folder: py-spy stacks of the app server at --profile-at steps"
    )
    parser.add_argument(
        "--profile-at",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[50, 100],
        help="the learner counts to profile (default 50,100)",
    )
    parser.add_argument("--keep-logs", help="a folder for the server and peer logs")
    parser.add_argument("--doc", action="store_true", help="update docs/performance.md")
    parser.add_argument(
        "--report-only", nargs="+", type=Path, help="stored results: rewrite the doc and plot"
    )
    args = parser.parse_args()
    if args.report_only:
        runs = [json.loads(path.read_text()) for path in args.report_only]
        write_doc(runs)
        plot(runs, PLOT)
        return
    if args.role:
        role, *rest = args.role
        {"peer": lambda: run_peer(int(rest[0])), "raw": lambda: run_raw(int(rest[0]))}.get(
            role, lambda: run_load(rest[0], rest[1])
        )()
        return
    args.step_s = args.step_s or (8.0 if args.quick else 15.0)
    args.targets = args.targets.split(",")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    rows = conduct(args)
    output = args.output or REPO / "bench" / "results" / f"capacity_{args.server}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    stored: dict[str, str | None] = {
        "output": str(output.relative_to(REPO) if output.is_relative_to(REPO) else output.name)
    }
    stored["keep_logs"] = "(a folder)" if args.keep_logs else None
    stored["profile"] = "(a folder)" if args.profile else None  # no machine paths in results
    run = {"args": vars(args) | stored, "label": args.label, "rows": rows}
    output.write_text(json.dumps(run, indent=1, default=str))
    print(table(rows))
    if args.doc:
        write_doc([run])
        plot([run], PLOT)


if __name__ == "__main__":
    main()
