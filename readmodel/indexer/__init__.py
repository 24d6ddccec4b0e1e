"""The event indexer: follows the chain into the read model."""
