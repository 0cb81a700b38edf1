"""The audit store: schema, state rules, transitions, locks."""

from setright.store.connection import Store

__all__ = ["Store"]
