"""The useapi v2 HTTP surface (FastAPI)."""
