"""``wavescore audit``: verify the hash-chained audit log, or list its entries.

``audit verify`` exits 0 when every entry's hash, every link and the anchor file agree, and 1
otherwise, printing one line per problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from server.settings import Settings
from store import Store


def _verify(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with Store.open(settings.database_path) as store:
        report = store.verify_audit()
    if report.ok:
        print(f"audit log OK: {report.n_entries} entries, chain and anchor verify")
        return 0
    print(f"audit log does NOT verify ({report.n_entries} entries checked):", file=sys.stderr)
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with Store.open(settings.database_path) as store:
        entries = store.list_audit(limit=args.limit, after_seq=args.after)
    for e in entries:
        if args.json:
            print(json.dumps({"seq": e.seq, "at": e.at.isoformat(), "user_name": e.user_name,
                              "action": e.action, "target": e.target, "detail": e.detail,
                              "hash": e.hash}))
        else:
            detail = json.dumps(e.detail, sort_keys=True) if e.detail else ""
            print(f"{e.seq:>8}  {e.at.isoformat(sep=' ', timespec='seconds')}  "
                  f"{e.user_name:<16}  {e.action:<18}  {e.target}  {detail}".rstrip())
    return 0


def register(subparsers: Any) -> None:
    """Add ``audit`` to the CLI."""
    parser = subparsers.add_parser("audit", help="verify or list the audit log",
                                   description=__doc__)
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    ver = sub.add_parser("verify", help="recompute the hash chain; exit 1 if it does not verify")
    ver.set_defaults(func=_verify)
    lst = sub.add_parser("list", help="print entries in order")
    lst.add_argument("--after", type=int, default=0, help="entries after this sequence number")
    lst.add_argument("--limit", type=int, default=100, help="most entries printed")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(func=_list)


__all__ = ["register"]
