"""The shop env's server: ``app`` (``server.app:app``, the manifest's) and ``main``."""
