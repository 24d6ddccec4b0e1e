"""Besu QBFT consortium network: extraData codec, keys, genesis, node configuration, allowlists."""
