"""Liveness for load balancers and the demo script."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health", summary="The server is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}
