"""``python -m mjapi.transports.worker FD``: the Discord worker, on the inherited socket FD."""

from __future__ import annotations

import asyncio
import sys

from mjapi.transports.worker.child import serve


def main() -> None:
    fd = int(sys.argv[1])
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it; a bare install runs on asyncio's loop
        asyncio.run(serve(fd))
    else:
        uvloop.run(serve(fd))


if __name__ == "__main__":
    main()
