"""The ``ray`` backend: each model's batches are answered by Ray actors that load it once.

What moves to Ray is only the model call. The engine keeps, on the driver, everything that needs
one view of the run: deduplication, the cache (looked up before a batch is sent, written as each
batch settles), the retry classification and backoff of :mod:`assay._util._retry`, stopping
early, the error Responses. :class:`RayPool` hands the engine one stand-in model per suite model
(:class:`RemoteModel`); the engine's thread pool calls it exactly as it calls a local model, and
the stand-in sends the batch to an idle actor and waits for it. So a model error is recorded the
same way on both backends, and a re-run on either backend after the other asks nothing again.

Why an actor pool and not Ray Data ``map_batches``: the engine's unit of work is a batch of
Requests of one model (after the cache took its share), not a block of a dataset; a batch's
inputs may be images, dicts or conversations that Arrow blocks do not hold; and the retries
must stay in the engine (one home), which needs each batch's outcome back on the driver, not a
transformed dataset. Back-pressure is the engine's: one batch in flight per actor (the stand-in
declares ``max_concurrency`` = its actors), so the driver never holds more than
``actors × batch_size`` inputs in flight, and an interrupted run leaves no backlog on the cluster.

What each actor receives: a *builder*, a picklable zero-argument callable that returns the model.
The runner gives one per suite model (spec, options, folder, trust: the model is loaded on the
worker with the model registry, so the files must be readable there); any other model (an
in-memory estimator or function, a fold model) is shipped as the object itself with cloudpickle,
or refused with a clear error when it cannot be pickled.

A worker process that dies mid-batch is restarted by Ray (``max_restarts``) and the batch sent
again (``max_task_retries``); when the restarts are spent, the call fails as a model-wide
``ModelError`` (cause ``"Ray actor died"``), which stops the run like any model-wide failure.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from assay._types import Model, ModelInfo, Output, Payload, TakesTimeout
from assay._util._retry import describe_error, is_retryable, model_wide_cause
from assay.config._suite import RaySettings
from assay.errors import (
    ConfigError,
    MissingDependencyError,
    ModelError,
    PartialBatchError,
    RetryableModelError,
)

__all__ = ["ModelBuilder", "RayPool", "RemoteModel", "ShippedModel", "connect_ray", "map_on_ray"]

#: A picklable callable, run once on each actor, that returns the model to answer with.
ModelBuilder = Callable[[], Model]

#: The model-wide cause of a call whose actor died and could not be restarted.
ACTOR_DIED = "Ray actor died"


class ShippedModel:
    """A builder that returns a model object shipped as it is (cloudpickle)."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def __call__(self) -> Model:
        return self.model


class _ModelHost:
    """The body of one Ray actor: builds its model once, answers one batch per call.

    A call never raises for a model failure: it returns ``("ok", outputs)``, ``("partial",
    message, results)`` or ``("error", exception)``, with every exception made safe to send back
    (:func:`_portable`), so the driver re-raises what the model raised and classifies it there.
    """

    def __init__(self, builder: ModelBuilder, timeout_s: float | None) -> None:
        self._model = builder()
        if timeout_s is not None and isinstance(self._model, TakesTimeout):
            self._model.set_timeout(timeout_s)

    def ready(self) -> bool:
        return True

    def predict(self, payloads: list[Payload], params: dict[str, Any] | None) -> tuple[Any, ...]:
        try:
            return ("ok", list(self._model.predict(payloads, params)))
        except PartialBatchError as partial:
            results = [r if isinstance(r, Output) else _portable(r) for r in partial.results]
            return ("partial", str(partial), results)
        except Exception as exc:
            return ("error", _portable(exc))


def _portable(exc: Any) -> Any:
    """``exc`` if it survives pickling as it is; else a ``ModelError`` (a
    ``RetryableModelError`` when it was transient) with its text and model-wide cause, so that
    the driver's classification (:mod:`assay._util._retry`) reads the same."""
    if not isinstance(exc, BaseException):
        return exc  # a wrong kind of result: the engine's checks name it
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        pass
    text, cause = describe_error(exc), model_wide_cause(exc)
    fix = getattr(exc, "fix", None)
    if is_retryable(exc):
        return RetryableModelError(text, model_wide=cause, fix=fix)
    return ModelError(text, model_wide=cause, fix=fix)


class RemoteModel:
    """Stands in for one model on the driver: ``predict`` sends the batch to an idle actor of the
    pool and returns (or raises) what the model did there.

    ``max_concurrency`` is the number of actors, so the engine keeps one batch per actor in
    flight (:class:`~assay._types.LimitsConcurrency`).
    """

    def __init__(self, info: ModelInfo, actors: Sequence[Any]) -> None:
        self._info = info
        self.max_concurrency = len(actors)
        self._idle: queue.Queue[Any] = queue.Queue()
        for actor in actors:
            self._idle.put(actor)

    def info(self) -> ModelInfo:
        return self._info

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        import ray
        from ray.exceptions import RayActorError

        actor = self._idle.get()
        try:
            wire = ray.get(actor.predict.remote(list(batch), params))
        except RayActorError as exc:
            raise ModelError(
                f"model {self._info.name!r}: its Ray actor died and could not be restarted: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                model_wide=ACTOR_DIED,
                fix="read the worker's log (`ray logs`, or /tmp/ray/session_latest/logs); give "
                "each actor more memory (engine.ray.memory_gb) or raise engine.ray.max_restarts",
            ) from None
        finally:
            self._idle.put(actor)
        kind = wire[0]
        if kind == "ok":
            return list(wire[1])
        if kind == "partial":
            raise PartialBatchError(wire[1], results=wire[2])
        raise wire[1]


class RayPool:
    """The Ray actors of one engine: started on first use, one set per model, closed with
    :meth:`close` (and Ray itself stopped when this pool started it).

    Args:
        settings: the cluster address and each actor's resources (``engine.ray``).
        builders: model name → builder for the models loaded from a spec; the others are
            shipped as objects (:class:`ShippedModel`).
    """

    def __init__(self, settings: RaySettings, builders: Mapping[str, ModelBuilder]) -> None:
        self.settings = settings
        self.builders = dict(builders)
        self._remote: dict[str, RemoteModel] = {}
        self._actors: list[Any] = []
        self._started_ray = False
        self._lock = threading.Lock()

    def remote_model(self, name: str, model: Model, timeout_s: float | None) -> RemoteModel:
        """The stand-in for ``model`` (suite name ``name``), its actors started on first use."""
        with self._lock:
            if name not in self._remote:
                self._remote[name] = self._start(name, model, timeout_s)
            return self._remote[name]

    def actors(self) -> dict[str, int]:
        """Model name → how many actors were started for it."""
        with self._lock:
            return {name: m.max_concurrency for name, m in self._remote.items()}

    def _start(self, name: str, model: Model, timeout_s: float | None) -> RemoteModel:
        ray = self._connect()
        builder = self.builders.get(name) or _shipped(name, model)
        s = self.settings
        options: dict[str, Any] = {
            "num_cpus": s.num_cpus,
            "num_gpus": s.num_gpus,
            "max_restarts": s.max_restarts,
            "max_task_retries": s.max_restarts,
            # one actor per node before two on one: a model's actors use the whole cluster
            "scheduling_strategy": "SPREAD",
        }
        if s.memory_gb is not None:
            options["memory"] = int(s.memory_gb * 1024**3)
        host = ray.remote(_ModelHost).options(**options)
        actors = [host.remote(builder, timeout_s) for _ in range(s.actors_per_model)]
        self._actors.extend(actors)
        try:
            _, pending = ray.wait(
                [a.ready.remote() for a in actors],
                num_returns=len(actors),
                timeout=s.start_timeout_s,
            )
            if pending:
                raise self._unplaced(name, len(pending), ray)
            ray.get([a.ready.remote() for a in actors])
        except ModelError:
            raise
        except Exception as exc:
            cause = getattr(exc, "cause", None) or exc
            raise ModelError(
                f"model {name!r} could not be loaded on a Ray worker: {describe_error(cause)}",
                fix="install assay and the model's dependencies on every node, make its files "
                "readable at the same path there (or set engine.ray.ship_package / runtime_env)",
            ) from None
        return RemoteModel(model.info(), actors)

    def _unplaced(self, name: str, n: int, ray: Any) -> ModelError:
        """The error for actors Ray could not place: what they ask, what the cluster has."""
        s = self.settings
        asks = f"num_cpus={s.num_cpus:g}, num_gpus={s.num_gpus:g}" + (
            f", memory_gb={s.memory_gb:g}" if s.memory_gb is not None else ""
        )
        total = {k: v for k, v in ray.cluster_resources().items() if k in {"CPU", "GPU"}}
        return ModelError(
            f"model {name!r}: {n} of its {s.actors_per_model} Ray actors could not be placed "
            f"within {s.start_timeout_s:g} s: each asks {asks}; the cluster has {total} in all, "
            f"and this run's {len(self._actors) - s.actors_per_model} other actors hold their "
            "share (every model keeps its actors for the whole run)",
            model_wide="Ray actors not placed",
            fix="lower engine.ray.actors_per_model or num_cpus/num_gpus, or add nodes",
        )

    def _connect(self) -> Any:
        ray, started = connect_ray(self.settings)
        self._started_ray = self._started_ray or started
        return ray

    def close(self) -> None:
        """Stop this pool's actors, and Ray when the pool started it."""
        if not self._actors and not self._started_ray:
            return
        import ray

        for actor in self._actors:
            with contextlib.suppress(Exception):  # already gone: nothing to stop
                ray.kill(actor)
        self._actors.clear()
        self._remote.clear()
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


def connect_ray(settings: RaySettings) -> tuple[Any, bool]:
    """The ``ray`` module, connected: to the Ray already initialised in this process, else to
    ``RAY_ADDRESS`` or ``settings.address``, else to a Ray started here. The second value says
    whether this call started (or joined) Ray, so that its caller shuts it down at the end.

    Raises:
        MissingDependencyError: Ray is not installed.
        ConfigError: Ray cannot be started or joined (names the address and the fix).
    """
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "engine.backend: ray needs Ray: pip install 'assay[ray]'"
        ) from None
    if ray.is_initialized():
        return ray, False
    address = os.environ.get("RAY_ADDRESS") or settings.address
    runtime_env = dict(settings.runtime_env)
    if settings.ship_package:
        package = str(Path(__file__).resolve().parents[1])
        runtime_env["py_modules"] = [*runtime_env.get("py_modules", []), package]
    try:
        ray.init(
            address=address,
            runtime_env=runtime_env or None,
            include_dashboard=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise ConfigError(
            f"engine.backend: ray: cannot start or join {where}: {describe_error(exc)}. Fix: "
            "check engine.ray.address (or RAY_ADDRESS) and that the head node is up "
            "(`ray status`), or use engine.backend: local"
        ) from None
    return ray, True


def map_on_ray(
    settings: RaySettings,
    fn: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    *,
    shared: Any = None,
) -> Iterator[Any]:
    """``fn(shared, *call)`` for each of ``calls`` as Ray tasks (``settings.num_cpus`` each,
    retried by Ray when a worker dies), yielded in the order of ``calls``.

    ``shared`` is put in Ray's object store once and handed to every task. At most twice as
    many tasks as the cluster has CPUs are in flight, so results never pile up on the driver.
    Ray is shut down at the end when this call started it.
    """
    ray, started = connect_ray(settings)
    try:
        task = ray.remote(num_cpus=settings.num_cpus, max_retries=settings.max_restarts)(fn)
        ref = ray.put(shared)
        width = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        pending: list[Any] = []
        for call in calls:
            pending.append(task.remote(ref, *call))
            if len(pending) >= width:
                yield ray.get(pending.pop(0))
        while pending:
            yield ray.get(pending.pop(0))
    finally:
        if started:
            ray.shutdown()


def _shipped(name: str, model: Model) -> ShippedModel:
    """``model`` itself as a builder, once it is known to survive cloudpickle."""
    from ray import cloudpickle

    try:
        cloudpickle.dumps(model)
    except Exception as exc:
        raise ConfigError(
            f"model {name!r} cannot be sent to Ray workers: it is an object in memory that "
            f"cloudpickle cannot serialise ({describe_error(exc)}). Fix: give it as a spec in "
            "the suite (python:module:function, sklearn:model.joblib), make it picklable, or "
            "use engine.backend: local"
        ) from None
    return ShippedModel(model)
