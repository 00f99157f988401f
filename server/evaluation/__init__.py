"""Evaluation harnesses (``wavescore eval ecg|sleep|seizure``).

Each harness module exposes ``add_arguments(parser)`` (defined in :mod:`server.evaluation.options`,
which the CLI imports alone) and ``run(args) -> int``.
"""
