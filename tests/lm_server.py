"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests (FastAPI + uvicorn in a thread).

It answers from a local tiny transformers model (``lm_fixtures.tiny_gpt2``) and misbehaves on
purpose when the prompt asks it to:

- ``F429`` : 429 with ``Retry-After: 0.2`` on the first two calls of that prompt, then answers;
- ``F429N``: 429 without ``Retry-After`` on the first two calls of that prompt, then answers;
- ``F500`` : 500 on the first call, then answers; ``FDEAD``: always 500;
- ``FSLOW``: the first call sleeps past the client's timeout, then answers;
- ``FJSON``: always a malformed JSON body;
- ``FCUT`` : streaming only, the stream is cut in the middle on the first call.
- ``FINTR``: streaming only, on the first call the stream sends one piece and then ``[DONE]``
  with no ``finish_reason``, as llama-cpp-python does when it interrupts a stream for a waiting
  request.
- ``FEMPTY``: answers the empty string; ``FNOFIN``: the answer (not streamed) carries no
  ``finish_reason``.
- ``SAY <words>``: answers exactly ``<words>`` (scripted answers for parser and judge tests).
- ``DIST <answer>=<p>|<answer>=<p>... END``: a scripted language model: it answers the most
  probable answer (unless ``SAY`` says otherwise), and its log-probabilities follow the
  distribution, word by word, as a real model's do: the first token's ``top_logprobs`` hold the
  first words' total masses (labels sharing a first word share its token, and a rare answer may
  be missing from the top k), the rest of the mass goes to filler words. With ``echo`` on the
  completions endpoint, a prompt the server answered before followed by a continuation gets each
  continuation token's conditional log-probability (``text_offset``, ``tokens``,
  ``token_logprobs``), as vLLM and llama.cpp give them.

Every answer honours ``max_tokens`` (``finish_reason: length`` when it cut the answer) and
``stop`` (``finish_reason: stop``).
- a judge prompt (holding ``Score:``) gets ``Score: k`` where k grows with the answer's length.

Server-wide behaviours, chosen when it is built:

- ``serial=True``: one request at a time, in arrival order (llama.cpp with one slot, Ollama); a
  request whose client went away while it waited is dropped, as vLLM and llama.cpp do;
- ``service_s``: each answer takes at least this long (a fixed decode time);
- ``usage=False``: no ``usage`` in any answer; a stream sends its usage chunk only when asked
  with ``stream_options: {include_usage: true}``;
- ``reject_stream_options=True``: a 400 naming ``stream_options`` when a request has it (as some
  servers do).

Server-wide faults, set on the instance (and reset with :meth:`LMServer.reset_faults`):

- ``require_key``: requests without ``Authorization: Bearer <require_key>`` get 401;
- ``fail_all``: every request gets this HTTP status (403, ...);
- :meth:`LMServer.die_after`: after the n-th request the server stops listening (connections are
  refused) and comes back on the same port ``down_s`` later;
- ``on_call``: called with the running count of requests as each arrives, before it is answered
  (the resume tests kill the client there).

Every request's headers and path are recorded in ``server.seen``, and each prompt's count of
requests in ``server.calls``.
"""

import asyncio
import json
import math
import re
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

#: Words that take the probability a ``DIST`` leaves over, in equal parts.
FILLERS = ("the", "it", "so", "well", "hmm", "maybe", "okay", "sure")
#: The log-probability of a word the scripted model never says.
NEVER = -20.0


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def dist_of(prompt: str) -> dict[tuple[str, ...], float] | None:
    """The answer distribution a ``DIST`` prompt scripts (words → probability), fillers included."""
    m = re.search(r"DIST (.*?) END", prompt)
    if m is None:
        return None
    dist: dict[tuple[str, ...], float] = {}
    for part in m.group(1).split("|"):
        answer, _, p = part.rpartition("=")
        dist[tuple(_words(answer))] = dist.get(tuple(_words(answer)), 0.0) + float(p)
    rest = max(0.0, 1.0 - sum(dist.values()))
    for w in FILLERS:
        dist[(w,)] = dist.get((w,), 0.0) + rest / len(FILLERS)
    return dist


def _conditional(dist: dict[tuple[str, ...], float], said: list[str], word: str) -> float:
    """log P(word | the answer so far is ``said``) under ``dist``."""
    before = sum(p for a, p in dist.items() if list(a[: len(said)]) == said)
    after = sum(p for a, p in dist.items() if list(a[: len(said) + 1]) == [*said, word])
    return math.log(after / before) if after > 0 and before > 0 else NEVER


def _tokens(text: str, start: int = 0) -> list[tuple[int, str]]:
    """Whitespace tokens, each holding the spaces before it, with their character offsets."""
    return [(start + m.start(), m.group(0)) for m in re.finditer(r"\s*\S+", text)]


class LMServer:
    def __init__(
        self,
        model_dir: Path,
        *,
        slow_s: float = 3.0,
        serial: bool = False,
        service_s: float = 0.0,
        usage: bool = True,
        reject_stream_options: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.manual_seed(0)
        self.tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
        self.slow_s = slow_s
        self.serial = serial
        self.service_s = service_s
        self.usage = usage
        self.reject_stream_options = reject_stream_options
        self._serial_lock: asyncio.Lock | None = None
        #: how many requests were answered, and the most that were being served at once
        self.n_served = 0
        self.most_at_once = 0
        self._serving = 0
        self.calls: Counter[str] = Counter()
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.app = self._build()
        self.server: Any = None
        self.thread: threading.Thread | None = None
        self.port = 0
        self.require_key: str | None = None
        self.fail_all: int | None = None
        self.on_call: Any = None
        self._die_at: tuple[int, float] | None = None
        self.n_restarts = 0

    def reset_faults(self) -> None:
        self.require_key = None
        self.fail_all = None
        self.on_call = None
        self._die_at = None

    @property
    def total_calls(self) -> int:
        with self.lock:
            return sum(self.calls.values())

    def die_after(self, n: int, *, down_s: float) -> None:
        """After the ``n``-th request from now has been answered, stop listening for ``down_s``
        seconds (new connections are refused), then listen again on the same port."""
        self._die_at = (self.total_calls + n, down_s)

    # -- the model --------------------------------------------------------------------------------

    def generate(self, prompt: str, max_tokens: int) -> list[str]:
        import torch

        if "FEMPTY" in prompt:
            return [""]
        m = re.search(r"SAY (.*?)(?: END|$)", prompt)
        if m:
            return m.group(1).split()
        dist = dist_of(prompt)
        if dist is not None:
            return list(max(dist, key=lambda a: dist[a]))
        if "Score:" in prompt:
            answer = prompt.split("ANSWER:")[-1] if "ANSWER:" in prompt else prompt
            return [f"Score: {min(5, 1 + len(answer.split()) // 3)}", "because", "length"]
        ids = self.tok(prompt, return_tensors="pt")["input_ids"][:, -48:]
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                max_new_tokens=min(max_tokens, 8),
                do_sample=False,
                pad_token_id=self.tok.pad_token_id,
            )
        new = out[0, ids.shape[1] :].tolist()
        return [self.tok.decode([t]) for t in new] or ["."]

    # -- the app ----------------------------------------------------------------------------------

    def _build(self) -> Any:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

        app = FastAPI()

        async def handle(request: Request, chat: bool) -> Any:
            body = await request.json()
            prompt = body["messages"][-1]["content"] if chat else body["prompt"]
            with self.lock:
                self.calls[prompt] += 1
                n = self.calls[prompt]
                total = sum(self.calls.values())
                self.seen.append(
                    {"path": request.url.path, "headers": dict(request.headers), "body": body}
                )
            if self.on_call is not None:
                self.on_call(total)
            if self._die_at is not None and total >= self._die_at[0]:
                # Stop listening now (the next connection is refused), answer this request on a
                # connection that then closes, and come back later on the same port.
                down_s = self._die_at[1]
                self._die_at = None
                for listener in getattr(self.server, "servers", []):
                    listener.close()
                threading.Thread(target=self._bounce, args=(down_s,), daemon=True).start()
                answer = await respond(request, chat, body, prompt, n)
                if not isinstance(answer, Response):
                    answer = JSONResponse(answer)
                answer.headers["connection"] = "close"
                return answer
            return await respond(request, chat, body, prompt, n)

        async def respond(request: Request, chat: bool, body: Any, prompt: str, n: int) -> Any:
            if self.require_key is not None and (
                request.headers.get("authorization") != f"Bearer {self.require_key}"
            ):
                return JSONResponse({"error": {"message": "invalid api key"}}, 401)
            if self.fail_all is not None:
                return JSONResponse({"error": {"message": "refused"}}, self.fail_all)
            if "F429N" in prompt and n <= 2:
                return JSONResponse({"error": "slow down"}, 429)
            if "F429" in prompt and n <= 2:
                return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": "0.2"})
            if ("F500" in prompt and n == 1) or "FDEAD" in prompt:
                return JSONResponse({"error": "boom"}, 500)
            if "FSLOW" in prompt and n == 1:
                await asyncio.sleep(self.slow_s)
            if "FJSON" in prompt:
                return PlainTextResponse('{"choices": [', media_type="application/json")
            if self.reject_stream_options and "stream_options" in body:
                return JSONResponse({"error": "unrecognized field: stream_options"}, 400)
            if self.serial and not await self._wait_turn(request):
                return JSONResponse({"error": "client went away"}, 499)
            # the slot is held while the answer is made; a stream's chunks are then sent freely
            self._serving += 1
            self.most_at_once = max(self.most_at_once, self._serving)
            try:
                if self.service_s:
                    await asyncio.sleep(self.service_s)
                return await answer(prompt, body, chat, n)
            finally:
                self._end_turn()

        async def answer(prompt: str, body: dict[str, Any], chat: bool, n: int) -> Any:
            if body.get("echo"):
                return self._echo(prompt)
            max_tokens = int(body.get("max_tokens", 16))
            words = self.generate(prompt, max_tokens)
            finish = "stop"
            if len(words) > max_tokens:
                words, finish = words[:max_tokens], "length"
            stops = body.get("stop") or []
            stops = [stops] if isinstance(stops, str) else stops
            joined = " ".join(words)
            cut = min((i for i in (joined.find(x) for x in stops if x) if i >= 0), default=-1)
            if cut >= 0:
                words, finish = (joined[:cut].split(" ") if cut else [""]), "stop"
            text = " ".join(words)
            usage = {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": len(words),
                "total_tokens": len(prompt.split()) + len(words),
            }
            logprobs = None
            if body.get("logprobs"):
                k = int(body.get("top_logprobs", 5)) if chat else int(body["logprobs"])
                logprobs = self._logprobs(prompt, words, k, chat)
            if not self.usage:
                usage = {}
            if not body.get("stream"):
                choice: dict[str, Any] = (
                    {"index": 0, "message": {"role": "assistant", "content": text}}
                    if chat
                    else {"index": 0, "text": text}
                )
                choice["finish_reason"] = None if "FNOFIN" in prompt else finish
                if logprobs:
                    choice["logprobs"] = logprobs
                reply = {"id": "x", "object": "chat.completion", "choices": [choice]}
                return {**reply, "usage": usage} if usage else reply
            cut = "FCUT" in prompt and n == 1
            with_usage = bool(usage) and bool(
                (body.get("stream_options") or {}).get("include_usage")
            )
            interrupted = "FINTR" in prompt and n == 1

            async def events() -> Any:
                for i, w in enumerate(words):
                    piece = w if i == 0 else " " + w
                    delta: dict[str, Any] = (
                        {"delta": {"content": piece}} if chat else {"text": piece}
                    )
                    if i == 0 and logprobs:
                        delta["logprobs"] = logprobs
                    last = i == len(words) - 1
                    choice = {"index": 0, **delta, "finish_reason": finish if last else None}
                    yield f"data: {json.dumps({'choices': [choice]})}\n\n"
                    await asyncio.sleep(0.005)
                    if cut and i == 0:
                        raise RuntimeError("connection dropped on purpose")
                    if interrupted and i == 0:
                        break  # [DONE] and nothing else: no finish_reason, no usage
                else:
                    if with_usage:
                        yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            return await handle(request, True)

        @app.post("/v1/completions")
        async def completions(request: Request) -> Any:
            return await handle(request, False)

        return app

    # -- serial processing ------------------------------------------------------------------------

    async def _wait_turn(self, request: Any) -> bool:
        """Wait for the one slot, in arrival order; ``False`` when the client went away first."""
        if self._serial_lock is None:
            self._serial_lock = asyncio.Lock()
        lock = self._serial_lock
        turn = asyncio.ensure_future(lock.acquire())
        while True:
            done, _ = await asyncio.wait({turn}, timeout=0.01)
            if done:
                return True
            if await request.is_disconnected():
                turn.cancel()
                try:
                    await turn
                except asyncio.CancelledError:
                    return False
                lock.release()  # it got the slot just as we gave up
                return False

    def _end_turn(self) -> None:
        self._serving -= 1
        self.n_served += 1
        if self.serial and self._serial_lock is not None and self._serial_lock.locked():
            self._serial_lock.release()

    # -- log-probabilities ------------------------------------------------------------------------

    def _logprobs(self, prompt: str, words: list[str], k: int, chat: bool) -> dict[str, Any]:
        """The answer's log-probabilities in the endpoint's format; the first token's top ``k``
        alternatives follow the prompt's ``DIST`` (or a fixed pair without one)."""
        dist = dist_of(prompt)
        if dist is None:
            first = [(words[0], -0.1), ("other", -2.5)]
        else:
            firsts: dict[str, float] = {}
            for answer, p in dist.items():
                if answer and p > 0:
                    firsts[answer[0]] = firsts.get(answer[0], 0.0) + p
            first = [(w, math.log(p)) for w, p in firsts.items()]
        first = sorted(first, key=lambda t: -t[1])[:k]
        rest = [-0.05] * (len(words) - 1)
        chosen = dict(first).get(_words(words[0])[0] if _words(words[0]) else words[0], NEVER)
        lps = [chosen, *rest]
        if chat:
            content = [
                {
                    "token": words[0],
                    "logprob": lps[0],
                    "top_logprobs": [{"token": w, "logprob": lp} for w, lp in first],
                }
            ]
            content += [
                {"token": " " + w, "logprob": lp, "top_logprobs": []}
                for w, lp in zip(words[1:], rest)
            ]
            return {"content": content}
        tokens = [words[0], *(" " + w for w in words[1:])]
        offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
        tops = [dict(first), *({t: lp} for t, lp in zip(tokens[1:], rest))]
        return {
            "tokens": tokens,
            "token_logprobs": lps,
            "top_logprobs": tops,
            "text_offset": offsets,
        }

    def _echo(self, text: str) -> dict[str, Any]:
        """``echo`` with ``logprobs``: the log-probability of each token of ``text``. A prompt
        answered before, followed by a continuation, scores the continuation by the prompt's
        ``DIST``; other tokens get -1 (and the first, as OpenAI's API has it, none)."""
        with self.lock:
            seen = [p for p in self.calls if text.startswith(p) and len(p) < len(text)]
        prompt = max(seen, key=len) if seen else text
        dist = dist_of(prompt) or {}
        toks = _tokens(prompt) + _tokens(text[len(prompt) :], len(prompt))
        offsets, tokens, lps = [], [], []
        said: list[str] = []
        for i, (offset, token) in enumerate(toks):
            offsets.append(offset)
            tokens.append(token)
            if i == 0:
                lps.append(None)
            elif offset < len(prompt):
                lps.append(-1.0)
            else:
                word = (_words(token) or [token.strip()])[0]
                lps.append(_conditional(dist, said, word))
                said.append(word)
        logprobs = {
            "tokens": tokens,
            "token_logprobs": lps,
            "text_offset": offsets,
            "top_logprobs": [None, *({t: lp} for t, lp in zip(tokens[1:], lps[1:]))],
        }
        choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": "length"}
        return {"id": "x", "object": "text_completion", "choices": [choice]}

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> "LMServer":
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self._start()
        return self

    def _start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def _stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _bounce(self, down_s: float) -> None:
        self._stop()
        time.sleep(down_s)
        self._start()
        self.n_restarts += 1

    def __exit__(self, *exc: object) -> None:
        self._stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
