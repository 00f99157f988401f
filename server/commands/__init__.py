"""Subcommands of the ``wavescore`` CLI: one module each, exposing ``register(subparsers)``."""
