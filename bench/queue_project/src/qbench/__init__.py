"""Small, real computations for a test suite that takes a second or two."""

__version__ = "0.1.0"
