"""The audit store: schema, state rules, transitions, locks (DESIGN §4)."""

from setright.store.connection import Store

__all__ = ["Store"]
