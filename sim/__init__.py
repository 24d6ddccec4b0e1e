"""Simulators of enterprises, auctions, compliance years and monitoring sites (may import every layer below the CLI)."""
