"""HTTP API and dashboard over the read model and the chain gateway."""
