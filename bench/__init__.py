"""The portal's benchmark with budgets: `python3 dev.py bench` (see docs/performance.md)."""
