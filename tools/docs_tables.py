"""Write the lifecycle table's Markdown into the docs: `python -m tools.docs_tables` (or `--check`).

The docs carry generated blocks between `<!-- lifecycle:NAME ... -->` and `<!-- /lifecycle:NAME -->`;
tests/test_lifecycle_table.py fails when one differs from what `crisisdesk.lifecycle` generates.
"""

import re
import sys
from pathlib import Path

from crisisdesk.lifecycle import actions_markdown, stages_markdown

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = {"stages": stages_markdown, "actions": actions_markdown}
DOCS = [ROOT / "docs" / "operators.md"]


def filled(text: str) -> str:
    for name, render in BLOCKS.items():
        pattern = re.compile(rf"(<!-- lifecycle:{name}\b[^>]*-->\n)(.*?)(<!-- /lifecycle:{name} -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + render() + "\n" + m.group(3), text)
    return text


def stale() -> list[Path]:
    return [path for path in DOCS if filled(path.read_text(encoding="utf-8")) != path.read_text(encoding="utf-8")]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        out = stale()
        for path in out:
            print(f"{path.relative_to(ROOT)}: lifecycle tables differ; run `python -m tools.docs_tables`")
        return 1 if out else 0
    for path in DOCS:
        path.write_text(filled(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
