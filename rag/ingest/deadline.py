"""A whole fetch's time limit, which httpx's timeouts do not give.

httpx bounds each step (a connect, each read) but not their sum: a server that trickles its
headers or its body a few bytes at a time stays inside every step's timeout for as long as it
likes. A `Watchdog` runs a timer for the whole fetch, every hop included; when it fires it shuts
the socket in use, which wakes a read blocked on it at once, and the fetch ends with the
deadline's message. The socket is learnt from httpcore's `trace` extension as each connection
opens (and again once TLS wraps it); a connection still opening is bounded by its connect
timeout, which the caller trims to `remaining()`.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

_OPENED = ("connection.connect_tcp.complete", "connection.start_tls.complete")


class Watchdog:
    """Use as a context manager around the fetch; pass `trace` as the request's `trace`
    extension."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def over(self) -> bool:
        """Whether the time is up (the timer may not have fired yet)."""
        return self.expired or self.remaining() <= 0

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event not in _OPENED:
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._socket = sock
            late = self.expired
        if late:  # opened just as the time ran out
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sock = self._socket
        _shut(sock)


def _shut(sock: socket.socket | None) -> None:
    """Shut down rather than close: a close does not wake a read blocked in another thread, and
    a socket object already closed has no descriptor left to reach (no other file is touched)."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already, or never connected
