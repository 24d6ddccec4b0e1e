"""Routes: participants (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["participants"])
