"""`rag ingest | watch | feeds | remove | list | ask | chat | serve | eval`: parse, call one library
function, print.

Every user-facing failure is a `RagError`; `main` turns it into one line on stderr and exit code 2.

- `parser`: the commands and their flags;
- `index_commands`: `rag ingest` (files, folders, web pages and feeds), `rag remove`, `rag list`;
- `watch_command`: `rag watch`, a folder kept in step with the index;
- `feed_commands`: `rag feeds`, the followed RSS/Atom feeds;
- `answer_commands`: `rag ask`, `rag chat`, `rag serve`;
- `eval_command`: `rag eval`;
- `loading`: settings from the flags, and an assistant loaded before the first question;
- `output`: progress bars, and answers and passages as printed.
"""

from __future__ import annotations

import sys

from rag.cli.parser import build_parser
from rag.errors import RagError

EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
