"""The Discord transport in a worker process of its own (``MJAPI_TRANSPORT_PROCESS``).

Why: the server is one Python process, and its event loop is the limit at thousands of running
jobs (bench/README.md): the gateway side (websocket frames, zlib, JSON, recognising Midjourney's
messages) was about a fifth of it. In a worker process that work runs on the machine's other
core. ``ProcessTransport`` is the ``Transport`` the engine sees; it forwards every call to a
``DiscordTransport`` in the worker over a socket pair and hands the worker's events on.

- ``pipe``: length-prefixed pickled messages over the socket pair, both ways;
- ``in_flight``: what the server side remembers of submitted jobs, to resume them in a new
  worker when one dies;
- ``parent``: ``ProcessTransport``; ``child``: the worker's main (``python -m
  mjapi.transports.worker FD``).
"""

from mjapi.transports.worker.parent import ProcessTransport
from mjapi.transports.worker.protocol import WorkerConfig

__all__ = ["ProcessTransport", "WorkerConfig"]
