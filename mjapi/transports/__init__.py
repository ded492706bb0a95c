"""Midjourney backends. The engine sees only ``mjapi.transports.base.Transport``."""
