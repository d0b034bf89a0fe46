#!/usr/bin/env python3
"""Add BPMN diagram interchange (pools, lanes, shapes, edges) to a hand-written BPMN file.

    .venv/bin/python tools/bpmn_layout.py processes/clue_disposal.bpmn [more.bpmn ...]

A thin wrapper around engine/core/layout.py, which deploy also uses for a diagram that has no
layout: any existing collaboration and diagram are replaced; the process elements are untouched.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.layout import laid_out


def layout_file(path: Path) -> None:
    tree = etree.parse(str(path), etree.XMLParser(remove_blank_text=True))
    path.write_text(laid_out(tree.getroot()), encoding="utf-8")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for name in argv:
        layout_file(Path(name))
        print(f"laid out {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
