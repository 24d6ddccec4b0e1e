"""Python access to the chain: compile, node control, deployment, transactions, clients."""
