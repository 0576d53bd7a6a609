"""Review signals, not failures: modules and functions past the sizes a reader takes in at once.

A long module or function is a prompt to look again (split by concern, name a step), never a reason to
squeeze code (positional arguments, helpers parked in the wrong module). The pre-commit hook
(``git config core.hooksPath .githooks``) and ``.ci/run`` print these warnings; nothing fails on them.

Usage: ``python .ci/review.py [PACKAGE_FOLDER]`` (default: ``visconvnets`` beside this folder); the scripts
beside the package folder (the two the README runs) are read too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MODULE_LINES = 250  # about four screens: past it, a module usually holds two concerns
FUNCTION_LINES = 60  # one screen: past it, a function usually hides a named step


def size_warnings(package: Path) -> list[str]:
    """One line per module over ``MODULE_LINES`` and per function over ``FUNCTION_LINES``, in path order: the
    package's modules, then the scripts beside it."""
    if not package.is_dir():
        raise FileNotFoundError(f"no package folder at {str(package)!r}")
    found = []
    for path in [*sorted(package.rglob("*.py")), *sorted(package.parent.glob("*.py"))]:
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(package.parent).as_posix()
        if len(source.splitlines()) > MODULE_LINES:
            found.append(f"{where}: {len(source.splitlines())} lines (review past {MODULE_LINES})")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    found.append(f"{where}:{node.lineno} {node.name}: {length} lines (review past {FUNCTION_LINES})")
    return found


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    package = Path(arguments[0]) if arguments else Path(__file__).resolve().parents[1] / "visconvnets"
    for line in size_warnings(package):
        print(f"review: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
