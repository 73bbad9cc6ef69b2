"""Several server processes sharing one database compute each window once: two processes race to
claim the same windows at the same instant, and each window goes to exactly one of them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _monitor_parts import SRC

from assay.monitor._store import Store

KEYS = 60

RACER = """
import json, sys, time
from pathlib import Path
from assay.monitor._store import Store
url, folder, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
store = Store(url)
store.count_events()  # connected and imported: ready
(folder / (out + ".ready")).write_text("")
while not (folder / "go").exists():  # both start together
    time.sleep(0.001)
won = [k for k in range({keys}) if store.claim_window(f"2026-12-07T{{k:03d}}")]
json.dump(won, open(out, "w"))
"""


def test_two_processes_claim_each_window_once(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    store.migrate()
    store.close()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RACER.format(keys=KEYS),
                db_url,
                str(tmp_path),
                f"{i}.json",
            ],
            env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"{i}.json.ready").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    (tmp_path / "go").write_text("")
    for p in procs:
        assert p.wait(timeout=120) == 0
    won = [set(json.loads((tmp_path / f"{i}.json").read_text())) for i in range(2)]
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == set(range(KEYS))
