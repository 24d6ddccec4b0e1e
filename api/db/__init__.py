"""The read model's schema, engine and migrations."""
