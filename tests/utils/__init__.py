"""Test factories and helpers."""
