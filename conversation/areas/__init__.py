"""The Store contract, one interface per area (see conversation/store.py)."""
