"""mjapi: a self-hosted, useapi.net-compatible Midjourney API v2 server."""

__version__ = "0.1.0"

__all__ = ["__version__"]
