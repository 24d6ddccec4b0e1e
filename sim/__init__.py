"""Simulators of enterprises, auctions, compliance years and monitoring sites.

They may import every layer below the CLI.
"""
