"""supplynet: intelligent supply networks (sense -> predict -> act, with a digital twin)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
