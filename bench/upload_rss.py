"""Server memory under many simultaneous uploads (issue 8's memory target).

Starts the driver in a subprocess with an application that discards request bodies,
opens ``--clients`` connections (default 200) and uploads ``--size`` MiB (default 16)
on each at once, samples the server's resident set (``VmRSS``) every 20 ms, and prints
its growth over the idle baseline. Target: growth <= 64 MiB for 200 x 16 MiB.

- ``--app streaming`` (default): a streaming app (``handle_exchange``) that reads the
  body as it arrives and drops it;
- ``--app simple``: a simple app, which gets the body whole: the server holds each
  connection's body in memory up to the budget's body share (32 KiB by default) and in
  a temporary file beyond it, and reads it back for the call, one call at a time (the
  peak is then about one body plus the shares; before the budget it was clients x
  size).

Usage::

    python bench/upload_rss.py                      # 200 x 16 MiB, streaming
    python bench/upload_rss.py --app simple
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
MiB = 1024 * 1024

SERVER = """
import sys
import driver

class Discard:
    def handle_exchange(self, exchange):
        count = [0]
        def on_data(piece):
            count[0] += len(piece)
        def on_end():
            exchange.respond(driver.Reply(200, (), b"%d" % count[0]))
        exchange.read_body(on_data, on_end)

def simple(request):
    return driver.Reply(200, (), b"%d" % len(request.body))

app = Discard() if sys.argv[1] == "streaming" else simple
driver.serve(app, driver.Config(host="127.0.0.1", port=0, access_log=False,
                                 max_body_size=int(sys.argv[2])))
"""


def rss(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) * 1024 if match else 0


def upload(port: int, size: int, chunk: memoryview, results: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        left = size
        while left:
            piece = chunk[: min(left, len(chunk))]
            sock.sendall(piece)
            left -= len(piece)
        response = b""
        while b"\r\n\r\n" not in response or not response.endswith(b"%d" % size):
            data = sock.recv(65536)
            if not data:
                break
            response += data
        results.append(response)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--size", type=int, default=16, help="MiB per upload")
    parser.add_argument("--app", choices=["streaming", "simple"], default="streaming")
    args = parser.parse_args(argv)
    size = args.size * MiB
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, args.app, str(size)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        found = re.search(r"port (\d+)", banner)
        if not found:
            print(f"server did not start: {banner}", file=sys.stderr)
            return 1
        port = int(found.group(1))
        time.sleep(0.3)
        baseline = rss(proc.pid)
        peak = baseline
        chunk = memoryview(b"u" * MiB)
        results: list[bytes] = []
        threads = [
            threading.Thread(target=upload, args=(port, size, chunk, results), daemon=True)
            for _ in range(args.clients)
        ]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, rss(proc.pid))
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        ok = sum(1 for r in results if r.startswith(b"HTTP/1.1 200") and r.endswith(b"%d" % size))
        growth = peak - baseline
        total = args.clients * size
        print(
            f"{args.app} app: {args.clients} clients x {args.size} MiB "
            f"({total / MiB:.0f} MiB in {elapsed:.1f} s, {total / MiB / elapsed:.0f} MiB/s), "
            f"{ok}/{args.clients} answered"
        )
        print(
            f"server RSS: baseline {baseline / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, "
            f"growth {growth / MiB:.1f} MiB"
        )
        met = "met" if growth <= 64 * MiB else "NOT met"
        print(f"Target: RSS growth <= 64 MiB for 200 x 16 MiB uploads: {met}")
        return 0 if ok == args.clients else 1
    finally:
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    raise SystemExit(main())
