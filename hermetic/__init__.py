"""hermetic: build RPM packages hermetically, reproducibly and only once."""

__version__ = "0.1.0"
