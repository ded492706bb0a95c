"""The production Discord transport: drives the Midjourney bot with a Discord user token.

Pure cores (``gateway``, ``zlib_stream``, ``interpret``, ``catalogue``, ``correlate``,
``tracked``, ``notices``, ``backoff``, ``dispatch``, the bookkeeping of ``ratelimit``) and thin I/O
shells (``rest``, ``ratelimit``'s limiter, ``runner``, ``link``, ``identity``, ``catchup``,
``transport``).
"""

from mjapi.transports.discord.transport import DiscordTransport

__all__ = ["DiscordTransport"]
