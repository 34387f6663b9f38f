"""Mutation score per module from mutmut's results (run after `mutmut run`; `make mutate` does both).

    .venv/bin/python bench/mutation_score.py

score = killed / (killed + survived + no tests + timeout): a timeout counts as a live mutant
(mutmut cannot tell a hang caused by the mutant from a slow test), skipped and unchecked ones
are left out. Survivors are listed so each can be killed by a test or explained in bench/README.md.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIVE = ("survived", "no tests", "timeout", "suspicious")


def main() -> int:
    done = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "results", "--all", "true"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for line in done.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name:
            continue
        module = name.split(".x_")[0].split(".xǁ")[0]
        per_module[module][status] += 1
        if status in LIVE:
            survivors[module].append(f"{name} ({status})")
    print("| module | mutants | killed | survived | no tests | timeout | score |")
    print("|---|---|---|---|---|---|---|")
    for module, counts in sorted(per_module.items()):
        checked = counts["killed"] + sum(counts[s] for s in LIVE)
        score = f"{counts['killed'] / checked:.1%}" if checked else "-"
        print(f"| {module} | {sum(counts.values())} | {counts['killed']} | {counts['survived']} | "
              f"{counts['no tests']} | {counts['timeout']} | {score} |")
    for module, names in sorted(survivors.items()):
        print(f"\n{module}: {len(names)} live mutants")
        for name in names:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
