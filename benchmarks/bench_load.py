"""The load generator's own ceiling: assay against a bare asyncio + httpx loop and Locust.

Run: ``.venv/bin/python benchmarks/bench_load.py [--seconds 10] [--concurrency 32]``

A trivial OpenAI-compatible server (``tests/load/latency_server.py``: answers at once) runs in its
own process; each generator runs in a fresh process of its own, one after the other, for the same
time and closed-loop concurrency, sending chat completions as fast as the server answers:

- **bare**: ``concurrency`` asyncio tasks, each ``await client.post(...)`` then ``resp.json()`` on
  one ``httpx.AsyncClient`` — the least any httpx-based generator can do;
- **raw**: the bare loop on assay's HTTP/1.1 client (:mod:`assay.models._http1`) instead of httpx;
- **assay**: ``run_load`` with ``LoadPlan(concurrency=(c,))`` on an ``openai:`` model (its adapter's
  body, answer parsing and timing, the samples and their summary) on the fast client;
- **assay-httpx**: the same with ``run_load(..., fast_http=False)``: the adapter's httpx client,
  as load runs sent before the fast client;
- **locust**: ``locust --headless`` with a ``FastHttpUser`` (geventhttpclient) and no wait time,
  run as a subprocess (Locust monkey-patches with gevent: never imported here).

Where ``taskset`` exists, the server is pinned to the last CPU and each generator to the first, so
"on one core" holds and they do not take each other's CPU. Reported: requests/s, the generator's CPU
milliseconds per request (its overhead: for bare and assay the process's CPU time during the run
itself, assay's summary included; for Locust, which cannot be timed from inside, the whole
process's user + system time, start-up included, so an upper bound) and the ratios assay/bare and
assay/locust, and each generator's ceiling on one core (1000 / CPU ms per request: the requests/s
it could send were it the bottleneck). On loopback with the fast client the one-core *server* is
the bottleneck (its ~10,000 answers/s cap both raw and assay, whose CPU stays below a core), so
requests/s there compare the generators' latency overhead and the CPU columns their cost.
On a machine shared with other work the figures move from run to run; ratios from the same run
are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "load" / "latency_server.py"
PATH = "/bench/trivial/v1"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}

BARE = textwrap.dedent(
    """
    import asyncio, json, sys, time
    import httpx

    async def main(url, seconds, c):
        body = json.loads(sys.argv[4])
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        async with httpx.AsyncClient(limits=limits) as client:
            await client.post(url, json=body)
            end = time.perf_counter() + seconds
            done = 0
            async def worker():
                nonlocal done
                while time.perf_counter() < end:
                    r = await client.post(url, json=body, timeout=60)
                    r.json()
                    done += 1
            t0, cpu0 = time.perf_counter(), time.process_time()
            await asyncio.gather(*(worker() for _ in range(c)))
            print(json.dumps({"requests": done, "seconds": time.perf_counter() - t0,
                              "run_cpu_s": time.process_time() - cpu0}))

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
    """
)

RAW = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from assay.models._http1 import Http1Client

    async def main(url, seconds, c):
        body = json.loads(sys.argv[4])
        client = Http1Client({}, c)
        await client.post(url, json=body, timeout=60)
        end = time.perf_counter() + seconds
        done = 0
        async def worker():
            nonlocal done
            while time.perf_counter() < end:
                r = await client.post(url, json=body, timeout=60)
                r.json()
                done += 1
        t0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(c)))
        print(json.dumps({"requests": done, "seconds": time.perf_counter() - t0,
                          "run_cpu_s": time.process_time() - cpu0}))
        await client.aclose()

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
    """
)

ASSAY = textwrap.dedent(
    """
    import json, sys, time
    from assay._runner._load import run_load
    from assay.load import LoadPlan
    from assay.models import load_model

    base, seconds, c = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    fast = sys.argv[4] == "fast"
    model = load_model(f"openai:m@{base}", options={"max_new_tokens": 8})
    plan = LoadPlan(concurrency=(c,), duration_s=seconds, warmup_s=0.0)
    cpu0 = time.process_time()
    step = run_load(model, ["hi"], plan, fast_http=fast).steps[0]
    print(json.dumps({"requests": step.n_ok, "seconds": step.duration_s, "errors": step.n - step.n_ok,
                      "run_cpu_s": time.process_time() - cpu0}))
    """
)

LOCUSTFILE = textwrap.dedent(
    """
    import json
    from locust import FastHttpUser, constant, task

    BODY = json.loads({body!r})

    class Bench(FastHttpUser):
        wait_time = constant(0)

        @task
        def chat(self):
            with self.client.post({path!r}, json=BODY, catch_response=True) as r:
                r.json()
    """
)


def _pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[str, float]:
    """Run ``cmd``; its stdout and the CPU seconds (user + system) its process tree used."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}")
    return out, _children_cpu()


_SEEN = [0.0]


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    used, _SEEN[0] = total - _SEEN[0], total
    return used


def run_bare(
    url: str, seconds: float, c: int, cpu: int | None, env: dict[str, str], script: str = BARE
) -> dict[str, Any]:
    out, _ = _timed(
        [*_pin(cpu), sys.executable, "-c", script, url, str(seconds), str(c), json.dumps(BODY)],
        env,
    )
    got = json.loads(out.strip().splitlines()[-1])
    return {**got, "cpu_s": got["run_cpu_s"]}


def run_assay(
    base: str, seconds: float, c: int, cpu: int | None, env: dict[str, str], client: str = "fast"
) -> dict[str, Any]:
    out, _ = _timed(
        [*_pin(cpu), sys.executable, "-c", ASSAY, base, str(seconds), str(c), client], env
    )
    got = json.loads(out.strip().splitlines()[-1])
    return {**got, "cpu_s": got["run_cpu_s"]}


def run_locust(
    host: str, seconds: float, c: int, cpu: int | None, env: dict[str, str]
) -> dict[str, Any]:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "locustfile.py"
        f.write_text(LOCUSTFILE.format(body=json.dumps(BODY), path=f"{PATH}/chat/completions"))
        csv = Path(tmp) / "stats"
        cmd = [*_pin(cpu), locust, "-f", str(f), "--headless", "-u", str(c), "-r", str(c),
               "-t", f"{int(seconds)}s", "--host", host, "--csv", str(csv), "--only-summary",
               "--loglevel", "ERROR", "--stop-timeout", "1"]  # fmt: skip
        _, cpu_s = _timed(cmd, env)
        rows = (Path(f"{csv}_stats.csv")).read_text().splitlines()
        header = rows[0].split(",")
        agg = next(r.split(",") for r in rows[1:] if ",Aggregated," in r)
        stats = dict(zip(header, agg, strict=False))
        n = int(stats["Request Count"])
        return {"requests": n, "seconds": n / float(stats["Requests/s"]) if float(stats["Requests/s"]) else seconds,
                "errors": int(stats["Failure Count"]), "cpu_s": cpu_s}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the three, interleaved")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    ncpu = os.cpu_count() or 1
    gen_cpu, server_cpu = (0, ncpu - 1) if ncpu > 1 else (None, None)
    server = subprocess.Popen(
        [*_pin(server_cpu), sys.executable, str(SERVER)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        host = f"http://127.0.0.1:{port}"
        results: dict[str, list[dict[str, Any]]] = {
            "bare": [], "raw": [], "assay": [], "assay-httpx": [], "locust": []
        }  # fmt: skip
        url = f"{host}{PATH}/chat/completions"
        s, c = args.seconds, args.concurrency
        for _ in range(args.repeat):
            results["bare"].append(run_bare(url, s, c, gen_cpu, env))
            results["raw"].append(run_bare(url, s, c, gen_cpu, env, RAW))
            results["assay"].append(run_assay(f"{host}{PATH}", s, c, gen_cpu, env))
            results["assay-httpx"].append(run_assay(f"{host}{PATH}", s, c, gen_cpu, env, "httpx"))
            results["locust"].append(run_locust(host, s, c, gen_cpu, env))
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
    pinned = (
        f"generator on CPU 0, server on CPU {server_cpu}"
        if gen_cpu is not None and shutil.which("taskset")
        else "not pinned"
    )
    print(
        f"closed loop, concurrency {args.concurrency}, {args.seconds:g} s each, {args.repeat} round(s); {pinned}"
    )
    print(
        f"{'generator':<12} {'requests/s (range)':>22} {'CPU ms/request':>15} "
        f"{'ceiling/core':>13} {'errors':>7}"
    )
    best: dict[str, float] = {}
    for name, runs in results.items():
        rps = [r["requests"] / r["seconds"] for r in runs]
        cpu_ms = [1000 * r["cpu_s"] / max(r["requests"], 1) for r in runs]
        best[name] = max(rps)
        errors = sum(int(r.get("errors", 0)) for r in runs)
        span = f"{min(rps):.0f}-{max(rps):.0f}" if len(rps) > 1 else f"{rps[0]:.0f}"
        ceiling = 1000 / max(min(cpu_ms), 1e-9)
        print(f"{name:<12} {span:>22} {min(cpu_ms):>15.3f} {ceiling:>13.0f} {errors:>7}")
    print("ratios of the best round each; per round (same round, back to back):")
    for k in range(args.repeat):
        r = {n: runs[k]["requests"] / runs[k]["seconds"] for n, runs in results.items()}
        print(
            f"  round {k + 1}: assay/bare {r['assay'] / r['bare']:.2f}, "
            f"assay/raw {r['assay'] / r['raw']:.2f}, assay/locust {r['assay'] / r['locust']:.2f}"
        )
    print(f"assay / bare   = {best['assay'] / best['bare']:.2f}  (target >= 0.90)")
    print(f"assay / raw    = {best['assay'] / best['raw']:.2f}  (the same client, no generator)")
    print(f"assay / locust = {best['assay'] / best['locust']:.2f}  (target > 1)")


if __name__ == "__main__":
    main()
