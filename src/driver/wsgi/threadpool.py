"""A bounded pool of daemon threads that runs blocking work off the loop's thread.

The WSGI adapter submits one job per request. Threads start on demand, up to ``size``,
and then stay for the life of the process; beyond ``size`` busy threads, jobs wait in
a FIFO queue. The pool keeps an exact count of idle threads (threads waiting for a job
minus jobs not yet taken), so a new thread starts exactly when every existing one is
busy: a job never waits behind a slow one while the pool could still grow.

Threads are daemons, so an application stuck in a call cannot keep the process alive
past the server's grace period; ``shutdown(timeout)`` waits for them, bounded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

__all__ = ["ThreadPool"]

log = logging.getLogger("driver.threadpool")

Job = Callable[[], object]


class ThreadPool:
    """Runs submitted callables on at most ``size`` threads."""

    __slots__ = ("_closed", "_idle", "_jobs", "_lock", "_name", "_threads", "size")

    def __init__(self, size: int, name: str = "worker") -> None:
        if size < 1:
            raise ValueError(f"a thread pool needs at least one thread, got {size}")
        self.size = size
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Threads waiting for a job minus jobs queued; negative when jobs wait.
        self._idle = 0
        self._threads: list[threading.Thread] = []
        self._closed = False

    @property
    def threads(self) -> int:
        """Threads started so far."""
        return len(self._threads)

    def submit(self, job: Job) -> None:
        """Run ``job()`` on a pool thread (exceptions it lets out are logged)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the thread pool is shut down")
            if self._idle <= 0 and len(self._threads) < self.size:
                # The new thread takes this job; it does not count as idle.
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1
        self._jobs.put(job)

    def _work(self) -> None:
        jobs = self._jobs
        lock = self._lock
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                job()
            except BaseException:
                log.exception("uncaught exception in a pool thread")
            del job  # do not keep the last request's objects alive while idle
            with lock:
                self._idle += 1

    def shutdown(self, timeout: float) -> bool:
        """Stop taking jobs, let queued ones run, and wait up to ``timeout`` seconds
        for every thread to finish. Returns whether they all did (a thread stuck in a
        job is abandoned: it is a daemon and dies with the process)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                for _ in self._threads:
                    self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)
