"""``wavescore agreement``: inter-rater agreement of a recording's sleep staging.

Prints every pair of scorers (users, and detector versions as ``detector:NAME@VERSION``) with
the epochs both scored, percent agreement and Cohen's kappa, then Fleiss' kappa over the epochs
every human scorer scored and the number of epochs human scorers disagree on (and how many of
them are not adjudicated yet). ``--json`` prints the same as ``GET
/api/recordings/{id}/agreement``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec

from server.settings import Settings


def _run(args: argparse.Namespace) -> int:
    from server.routes.agreement import agreement_out
    from store import Store

    settings = Settings.from_env()
    with Store.open(settings.database_path) as store:
        store.get_recording(args.recording_id)
        out = agreement_out(store.stage_agreement(args.recording_id),
                            store.stage_disagreements(args.recording_id))
    if args.json:
        print(json.dumps(msgspec.to_builtins(out), indent=2, sort_keys=True))
        return 0
    print(f"recording {out.recording_id}: sleep staging, {out.epoch_s:g}-s epochs")
    if not out.scorers:
        print("no scorer has staged this recording")
        return 0
    print("scorers: " + ", ".join(f"{s} ({out.n_epochs_scored[s]} epochs)"
                                  for s in out.scorers))
    if out.pairs:
        wa = max(len("scorer A"), *(len(p.scorer_a) for p in out.pairs))
        wb = max(len("scorer B"), *(len(p.scorer_b) for p in out.pairs))
        print(f"{'scorer A':<{wa}}  {'scorer B':<{wb}}  {'epochs':>6}  {'agree %':>7}  "
              f"{'kappa':>6}")
        for p in out.pairs:
            print(f"{p.scorer_a:<{wa}}  {p.scorer_b:<{wb}}  {p.n_epochs:>6}  "
                  f"{p.percent_agreement:>7.1f}  {p.kappa:>6.3f}")
    else:
        print("no two scorers staged a common epoch")
    fleiss = "n/a (fewer than 2 human scorers with common epochs)" \
        if out.fleiss_kappa is None else f"{out.fleiss_kappa:.3f}"
    print(f"Fleiss' kappa (human scorers): {fleiss}")
    print(f"disagreements: {out.n_disagreements} epochs ({out.n_unresolved} not adjudicated)")
    return 0


def register(subparsers: Any) -> None:
    """Add ``agreement`` to the CLI."""
    parser = subparsers.add_parser("agreement", help="inter-rater agreement of sleep staging",
                                   description=__doc__)
    parser.add_argument("recording_id", help="stored recording id")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_run)


__all__ = ["register"]
