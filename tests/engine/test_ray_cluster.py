"""A real two-node Ray cluster on this machine (``ray start --head`` and a second ``ray start
--address``, on 127.0.0.1, each with one CPU, in a temporary folder, stopped at the end even when
the test fails), and one ``assay run`` that joins it through ``engine.ray.address``: its two
actors land on the two nodes, and the report equals a local run's number by number."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import joblib
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import assay

pytest.importorskip("ray")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="ray start on 127.0.0.1, POSIX signals"),
]

FEATURES = ["mean_radius", "mean_texture", "mean_smoothness"]
RAY = str(Path(sys.executable).with_name("ray"))
# Token authentication is off for this throw-away cluster: the nodes and the driver would all
# need the same token file, and nothing outside this machine can reach it.
ENV = {
    **{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "OMP_NUM_THREADS": "1",
}

# Records on which Ray node each batch was answered.
WHERE = textwrap.dedent(
    """
    from pathlib import Path
    import ray
    LOG = Path(__file__).with_name("nodes.log")

    def predict(rows):
        with LOG.open("a") as f:
            f.write(ray.get_runtime_context().get_node_id() + "\\n")
        return [int(r["mean_radius"] < 14.5) for r in rows]
    predict.task = "classification"
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop one ``ray start --block``: on SIGTERM it stops the processes of its node."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def cluster() -> Iterator[str]:
    """``127.0.0.1:<port>`` of a head node and a second node; both stopped afterwards."""
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths
    started: list[subprocess.Popen[bytes]] = []
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--block"]
    head = [RAY, "start", "--head", "--port", str(port), "--temp-dir", str(temp)]
    head_log, node_log = (temp / "head.log").open("wb"), (temp / "node.log").open("wb")
    try:
        started.append(
            subprocess.Popen(
                [*head, "--include-dashboard", "false", *common],
                env=ENV,
                stdout=head_log,
                stderr=subprocess.STDOUT,
            )
        )
        deadline = time.monotonic() + 60
        while not _listening(port):
            if started[0].poll() is not None or time.monotonic() > deadline:
                head_log.flush()
                tail = (temp / "head.log").read_text(errors="replace")[-600:]
                pytest.skip(f"Ray cannot start a head node on this machine: {tail}")
            time.sleep(0.2)
        started.append(
            subprocess.Popen(
                [RAY, "start", "--address", f"127.0.0.1:{port}", *common],
                env=ENV,
                stdout=node_log,
                stderr=subprocess.STDOUT,
            )
        )
        address = f"127.0.0.1:{port}"
        while _active_nodes(address) < 2:
            if started[1].poll() is not None or time.monotonic() > deadline + 60:
                node_log.flush()
                tail = (temp / "node.log").read_text(errors="replace")[-600:]
                pytest.skip(f"Ray cannot start a second node on this machine: {tail}")
            time.sleep(0.5)
        yield address
    finally:
        for proc in reversed(started):
            _stop(proc)
        head_log.close()
        node_log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _active_nodes(address: str) -> int:
    """How many nodes ``ray status`` lists as active."""
    status = subprocess.run(
        [RAY, "status", "--address", address], env=ENV, capture_output=True, text=True
    ).stdout
    active = status.partition("Active:")[2].partition("Pending:")[0]
    return sum(1 for line in active.splitlines() if "node_" in line)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_assay_run_on_a_two_node_cluster_through_engine_ray_address(
    cluster: str, tmp_path: Path
) -> None:
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    train, test = frame.iloc[:369], frame.iloc[369:].reset_index(drop=True)
    model = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["target"])
    joblib.dump(model, tmp_path / "model.joblib")
    test.assign(id=[f"p{i}" for i in range(len(test))]).to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "where.py").write_text(WHERE)
    suite = {
        "name": "cancer",
        "seed": 11,
        "data": {"path": "test.csv", "id": "id", "input": FEATURES, "label": "target"},
        "models": {"rule": "python:where.py:predict", "candidate": "sklearn:model.joblib"},
        "trust": True,
        "checks": {"performance": {"n_bootstrap": 100}},
        "engine": {
            "cache": None,
            "progress": False,
            "batch_size": 20,
            "backend": "ray",
            # two models × two actors of half a CPU on two one-CPU nodes; spread: a model's
            # two actors land on the two nodes
            "ray": {"address": cluster, "actors_per_model": 2, "num_cpus": 0.5},
        },
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")

    cli = [sys.executable, "-c", "from assay._cli.main import main; main()"]
    run = subprocess.run(
        [*cli, "run", str(path), "--out", str(tmp_path / "out"), "-q"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    nodes = set((tmp_path / "nodes.log").read_text().split())
    assert len(nodes) == 2, nodes  # both nodes answered

    on_cluster = json.loads((tmp_path / "out" / "report.json").read_text())
    assert on_cluster["engine"]["backend"] == "ray" and on_cluster["engine"]["n_called"] > 0
    suite["engine"] = {"cache": None, "progress": False, "batch_size": 20}
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    local = json.loads(assay.evaluate(path, progress=False, write=False).to_json())
    assert on_cluster["results"] == local["results"]
