"""setright: resolution-as-code for failed database changes."""

__version__ = "0.1.0"
