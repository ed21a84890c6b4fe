"""What the side-by-side benchmarks share: start a server pinned to its CPUs, wait
until it answers, stop it, and read wrk's latency units."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["default_cpus", "free_port", "latency_ms", "running", "wait_until_serving"]

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(
    port: int, path: str, proc: subprocess.Popen[bytes], *, tls: bool = False
) -> None:
    """Until ``GET path`` answers 200 (or the server exits, or 20 s pass); over TLS
    (the certificate not checked: made for the run) if ``tls``."""
    deadline = time.monotonic() + 20
    request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
                sock = context.wrap_socket(raw) if tls else raw
                sock.sendall(request)
                if re.match(rb"HTTP/1\.[01] 200", sock.recv(64)):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("did not answer 200 in 20 s")


@contextlib.contextmanager
def running(
    command: Sequence[str], cpus: str, *, prefix: Sequence[str] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` pinned to ``cpus`` (after ``prefix``: nice, chrt), with this tree's
    sources and bench/ on its path; terminated (then killed) on exit."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [*prefix, "taskset", "-c", cpus, *command],
        cwd=HERE,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def latency_ms(value: str, unit: str) -> float:
    """A wrk latency (``812.00us``, ``1.20ms``, ``2.00s``) in milliseconds."""
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def default_cpus() -> tuple[str, str]:
    """(server CPUs, client CPUs): the server gets one CPU, the load the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return str(cpus[0]), str(cpus[0])
    half = max(1, len(cpus) // 2)
    return str(cpus[0]), ",".join(str(c) for c in cpus[half:]) or str(cpus[-1])
