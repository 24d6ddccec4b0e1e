"""The demo: a sample consortium brought up end to end on a local chain (may import every layer)."""
