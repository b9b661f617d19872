"""A build or add in its own process, with the fake encoder, that can SIGKILL itself at its Nth file operation.

    python -m tests.crash_worker build|add|add-small|delete INDEX [INPUT...] [--kill-at N] [--delete ID]...

Every call that moves data to disk on the way to a new generation (copy, hard link, fsync, rename, replace,
symlink, vector, lexical and store-segment writes) is counted; with --kill-at N the process kills itself
(SIGKILL: no cleanup, no finally, no atexit) just before the Nth. Without it, it finishes and prints
`steps=<count>` so a test can aim at every step in turn.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

steps = 0


def _counted(fn: Callable[..., Any], kill_at: int | None) -> Callable[..., Any]:
    def hooked(*args: Any, **kwargs: Any) -> Any:
        global steps
        steps += 1
        if kill_at is not None and steps == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)

    return hooked


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("build", "add", "add-small", "delete"))  # add-small: an add too
    parser.add_argument("index")
    parser.add_argument("inputs", nargs="*")
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--delete", action="append", default=[])
    args = parser.parse_args(argv)

    from index import group_layers, lexical, segments
    from index import vectors as vecs
    from index.passages import PassageStore

    for module, name in [
        (os, "fsync"),
        (os, "rename"),
        (os, "replace"),
        (os, "symlink"),
        (os, "link"),
        (shutil, "copyfile"),
        (vecs, "write"),
        (lexical, "build"),
        (lexical.LexicalEditor, "commit"),
        (segments, "write_list"),
        (group_layers, "write_list"),
        (PassageStore, "absorb"),
    ]:
        setattr(module, name, _counted(getattr(module, name), args.kill_at))

    from tests.fakes import FakeEncoder, fake_build

    if args.command == "build":
        fake_build([Path(p) for p in args.inputs], Path(args.index))
    elif args.command == "delete":
        from index.update import delete_articles

        delete_articles(Path(args.index), args.delete)
    else:
        from index.update import add_files

        add_files(Path(args.index), args.inputs, FakeEncoder(), delete=args.delete)
    print(f"steps={steps}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
