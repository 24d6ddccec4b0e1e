"""End-of-day clearing and settlement: trading days, settlement runs, reconciliation, reports."""
