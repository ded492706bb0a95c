"""Callbacks to clients' ``replyUrl``."""
