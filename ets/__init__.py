"""ETS Chain: shared root of the Python side (errors, CLI)."""
