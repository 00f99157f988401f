"""Evaluation harnesses (``wavescore eval ecg|sleep|seizure``).

Each module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""
