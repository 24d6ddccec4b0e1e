"""Field side: HJ 212 frames, quota control, signed readings, batches anchored on-chain."""
