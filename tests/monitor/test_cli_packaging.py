"""``assay monitor serve`` without the extra, and the migrations shipped in the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from _monitor_parts import SRC

ROOT = SRC.parent

BLOCK_FASTAPI = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "fastapi" or name.startswith("fastapi."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from assay._cli.main import main
main(["monitor", "serve", "--suite", "s.yaml", "--reference", "r.csv"])
"""


def test_serve_without_the_extra_names_the_pip_extra(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_FASTAPI],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "MissingDependencyError" in run.stderr and "pip install 'assay[monitor]'" in run.stderr
    assert "fastapi" in run.stderr


def test_the_wheel_ships_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("assay-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        "assay/monitor/" + str(p.relative_to(SRC / "assay" / "monitor"))
        for p in (SRC / "assay" / "monitor" / "migrations").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped and shipped <= names, shipped - names
