"""The production Discord transport: drives the Midjourney bot with a Discord user token.

Pure cores (``gateway``, ``interpret``, ``correlate``, ``backoff``, ``dispatch``) and thin I/O
shells (``rest``, ``runner``, ``transport``).
"""

from mjapi.transports.discord.transport import DiscordTransport

__all__ = ["DiscordTransport"]
