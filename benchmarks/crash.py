"""Kill real `python -m index add` (and `build`) processes, with the real model, at random moments while they write.

    python benchmarks/crash.py --index IDX --articles NEW.jsonl --inputs IDX-INPUTS... --work DIR [--rounds 10]

Copies IDX to DIR/index. Each round starts a writer (add of NEW.jsonl; every third round a full rebuild of
INPUTS + NEW.jsonl), waits until it has started writing its new generation's files, then SIGKILLs it after a
random delay (0 to --max-delay s), and checks that the served index is sound (`index check`), holds the
old articles or the new ones (never a mix) and answers a search. At the end one add runs to completion. The
tests kill writers before every file operation with a fake encoder (tests/test_crash.py); this does it to the
real thing, at random.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import REPO


def state(index: Path) -> tuple[list[str], set[str]]:
    """(problems from index check, article ids) of the served index; a lexical and a dense search must answer."""
    from index.check import check_index
    from index.reader import IndexReader

    _, problems = check_index(index)
    reader = IndexReader(index)
    try:
        ids = reader.article_ids()
        assert reader.search_lexical("russia ukraine", 5), "lexical search found nothing"
        assert reader.search(reader.vectors([0]), 5)[0] or not reader.passages, "vector search found nothing"
        return problems, ids
    finally:
        reader.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--articles", type=Path, required=True, help="JSONL of articles to add")
    parser.add_argument("--inputs", nargs="+", required=True, help="the index's own inputs (for the rebuilds)")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=3.0, help="kill within this many seconds of the first write")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    index = args.work / "index"
    if index.exists():
        shutil.rmtree(index)
    args.work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(args.index, index, symlinks=True)
    new_ids = {json.loads(line).get("doc_id") or json.loads(line)["id"] for line in args.articles.open()}
    _, old = state(index)
    added = old | new_ids
    py = sys.executable
    rounds = []
    for i in range(args.rounds):
        rebuild = i % 3 == 2
        cmd = (
            [py, "-m", "index", "build", "--index", str(index), *args.inputs, str(args.articles), "--no-progress"]
            if rebuild
            else [py, "-m", "index", "add", "--index", str(index), str(args.articles)]
        )
        before = state(index)[1]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        gens = index / "generations"
        # An add writes from the moment its .tmp folder appears; a build reads and embeds for a while first, and
        # starts writing its files when the lexical index appears in it: wait for that.
        marker = ".tmp-*/lexical" if rebuild else ".tmp-*"
        while proc.poll() is None and not list(gens.glob(marker)):
            time.sleep(0.01)
        delay = rng.uniform(0, args.max_delay)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        problems, after = state(index)
        outcome = "killed" if proc.returncode == -signal.SIGKILL else f"finished ({proc.returncode})"
        ok = not problems and after in (before, added)
        rounds.append(
            {
                "writer": "build" if rebuild else "add",
                "delay_s": round(delay, 2),
                "outcome": outcome,
                "served": "new" if after == added and before != added else "old",
                "check": problems or "ok",
            }
        )
        print(json.dumps(rounds[-1]), flush=True)
        if not ok:
            print(f"FAILED: problems {problems}, {len(after)} articles served", file=sys.stderr)
            return 1
        if after == added:  # the writer got through: start again from the old state for the next round
            shutil.rmtree(index)
            shutil.copytree(args.index, index, symlinks=True)
    done = subprocess.run([py, "-m", "index", "add", "--index", str(index), str(args.articles)], cwd=REPO)
    problems, final = state(index)
    print(json.dumps({"final_add_exit": done.returncode, "check": problems or "ok", "all_added": final == added}))
    killed = sum(r["outcome"] == "killed" for r in rounds)
    print(f"{killed}/{len(rounds)} writers killed mid-write; index sound after every one; final add completed")
    return 0 if done.returncode == 0 and not problems and final == added else 1


if __name__ == "__main__":
    sys.exit(main())
