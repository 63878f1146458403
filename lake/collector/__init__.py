"""Segment-compatible HTTP collector: app (Starlette), flusher (WAL → Delta), server (uvicorn)."""
