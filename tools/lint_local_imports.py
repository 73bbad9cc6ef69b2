"""Function-level imports are only for optional heavy dependencies.

An import inside a function hides a dependency from the import-linter contracts and from readers,
so assay keeps them to the short list in ``pyproject.toml`` (``[tool.assay.local-imports]``): heavy
or optional third-party packages that a plain ``import assay`` must not load (torch, transformers,
mlflow, playwright, ...). Every other import — and every import of assay itself — goes at the top
of its module, with one exception: the CLI's command modules (``assay/_cli/``) import the library
inside each command, so that ``assay --help`` and shell completion do not load pandas and scipy
(the CLI is the top layer: nothing imports it, so no cycle can hide there). Run by ``make lint``; exits 1 and lists the offenders.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def allowed_packages() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    table = config["tool"]["assay"]["local-imports"]
    return {str(k): str(v) for k, v in table.items()}


def local_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, top-level package)`` of every import inside a function of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if in_function and isinstance(child, ast.Import):
                found.extend((child.lineno, a.name.split(".")[0]) for a in child.names)
            elif in_function and isinstance(child, ast.ImportFrom):
                name = "." if child.level else (child.module or "").split(".")[0]
                found.append((child.lineno, name))
            visit(child, inner)

    visit(tree, False)
    return found


def main() -> int:
    allowed = allowed_packages()
    bad = []
    cli = ROOT / "src" / "assay" / "_cli"
    for path in sorted((ROOT / "src" / "assay").rglob("*.py")):
        for line, package in local_imports(path):
            if package == "assay" and path.is_relative_to(cli):
                continue
            if package not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{line}: function-level import of {package!r}")
    if bad:
        print("\n".join(bad))
        print(
            f"\n{len(bad)} function-level import(s) outside [tool.assay.local-imports] in "
            "pyproject.toml: move them to the top of the module, or add the package there with "
            "the reason it must load lazily."
        )
        return 1
    print(f"local imports: only {', '.join(sorted(allowed))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
