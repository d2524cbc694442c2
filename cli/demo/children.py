"""The pipeline's parts as child processes: each `iiot …` in a process group of its own,
its output in a log file, stopped gently and then for good.

Own process groups keep the terminal's Ctrl-C away from the children, so the demo decides
the order they stop in; on Linux a child also gets SIGTERM if the demo itself is killed,
so nothing is left running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


class ChildFailed(RuntimeError):
    """A part exited on its own with an error (or when it should have kept running)."""

    def __init__(self, child: Child, code: int) -> None:
        super().__init__(f"`{child.command}` exited with code {code}; its log: {child.log}")
        self.child = child
        self.code = code


@dataclass
class Child:
    name: str
    log: Path
    process: subprocess.Popen[bytes]
    command: str  # as a user would type it, for messages

    def exit_code(self) -> int | None:
        return self.process.poll()

    def running(self) -> bool:
        return self.process.poll() is None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the demo goes, however it goes (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start(name: str, args: Sequence[str], env: dict[str, str], log_dir: Path) -> Child:
    """Start `iiot ARGS` with its output going to `<log_dir>/<name>.log`."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    return Child(name, log, process, " ".join(["iiot", *args]))


def run_to_end(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    *,
    interrupted: Callable[[], bool],
    timeout_s: float,
) -> Child:
    """Run a one-shot step (`stack up`, `db migrate`); `ChildFailed` unless it exits 0."""
    child = start(name, args, env, log_dir)
    deadline = time.monotonic() + timeout_s
    while child.running():
        if interrupted() or time.monotonic() > deadline:
            stop([child])
            if interrupted():
                raise KeyboardInterrupt
            raise ChildFailed(child, -1)
        time.sleep(0.1)
    if child.process.returncode != 0:
        raise ChildFailed(child, child.process.returncode)
    return child


def _signal_group(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signum)


def stop(
    children: Sequence[Child], grace_s: float = 20.0, *, hurry: Callable[[], bool] = bool
) -> None:
    """SIGINT to each group (every part stops cleanly on it), SIGKILL after `grace_s` or
    as soon as `hurry()` says so (a second Ctrl-C); then reap."""
    for child in children:
        if child.running():
            _signal_group(child, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while any(c.running() for c in children) and time.monotonic() < deadline and not hurry():
        time.sleep(0.1)
    for child in children:
        _signal_group(child, signal.SIGKILL)  # the leader, or anything it left behind
        child.process.wait()


def tail(path: Path, lines: int = 15) -> list[str]:
    """The last lines of a log, for the error message when a part fails."""
    try:
        text = path.read_bytes()[-16_384:].decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]
