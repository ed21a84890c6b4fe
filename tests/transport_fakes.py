"""What a ``SocketTransport`` needs around it, faked, for tests that drive one over a
real socket pair without a loop: the loop's calls recorded, a protocol that counts the
flow-control calls."""

from __future__ import annotations


class RecordingLoop:
    """What a transport uses of the loop; ``call_soon`` is recorded in ``soon``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.stopping = False
        self.soon: list[object] = []

    def call_soon(self, fn: object, *args: object) -> None:
        self.soon.append(fn)

    def schedule(self, timed: object) -> None:
        pass

    def modify(self, fd: int, mask: int) -> None:
        pass

    def forget(self, fd: int) -> None:
        pass


class FlowCounter:
    """A protocol that only counts ``pause_writing`` and ``resume_writing``."""

    def __init__(self) -> None:
        self.paused = 0
        self.resumed = 0

    def connection_made(self, transport: object) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        pass

    def pause_writing(self) -> None:
        self.paused += 1

    def resume_writing(self) -> None:
        self.resumed += 1
