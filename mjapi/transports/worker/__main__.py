"""``python -m mjapi.transports.worker FD``: the Discord worker, on the inherited socket FD."""

from __future__ import annotations

import asyncio
import signal
import sys

from mjapi.transports.worker.child import serve


def main() -> None:
    fd = int(sys.argv[1])
    # The server stops its worker itself (``close``, or the socket's end when it dies):
    # the signals that stop the server (systemd's SIGTERM to the whole group, a terminal's
    # Ctrl-C) must not end the worker before the server has closed its accounts.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it; a bare install runs on asyncio's loop
        asyncio.run(serve(fd))
    else:
        uvloop.run(serve(fd))


if __name__ == "__main__":
    main()
