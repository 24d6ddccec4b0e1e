"""The read model: SQLAlchemy models, sessions, bulk writers, migrations and the indexer that fills
them from contract events."""
