"""`nirvana load` end to end against a mock OpenAI server started by the test.

The mock streams SSE inside chunked transfer coding and writes the bytes in
deliberately odd pieces (splitting chunk-size lines, CRLFs and events), mixes
in keep-alive comments and CRLF line endings, and can fail on purpose.

    NRV_BUILD=build ~/.cache/nirvana/venv/bin/pytest tests/py/test_load.py
"""
import asyncio
import json
import random
import socket
import subprocess
import threading
import time

import pytest


class MockServer:
    """An OpenAI-style server on a free loopback port, in a background thread.

    Options (attributes, set before requests arrive):
      tokens_per_chunk  tokens of text per SSE chunk
      usage             send a usage chunk when stream_options.include_usage asks
      fail_every        every k-th generation request gets HTTP 500 (0: never)
      sse_error         stream an `event: error` after two tokens
      hang              read requests, never answer
      close_after       close a kept-alive connection after k responses (0: never)
      first_delay_s     wait before the first token
      token_delay_s     wait between chunks
    """

    def __init__(self, **opts):
        self.tokens_per_chunk = 1
        self.usage = True
        self.fail_every = 0
        self.sse_error = False
        self.hang = False
        self.close_after = 0
        self.first_delay_s = 0.0
        self.token_delay_s = 0.0
        self.__dict__.update(opts)
        self.requests = []      # parsed JSON bodies of generation requests
        self.paths = []         # every request's method and path
        self.sent = []          # (prompt_tokens, completion_tokens, chunks) per success
        self.connections = 0
        self.rng = random.Random(1234)
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self.handle, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        async def shutdown():
            self.server.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def write_odd(self, writer, data):
        """Write data in pieces of 1..23 bytes, yielding so reads split there."""
        i = 0
        while i < len(data):
            k = self.rng.randint(1, 23)
            writer.write(data[i:i + k])
            await writer.drain()
            i += k
            if self.rng.random() < 0.2:
                await asyncio.sleep(0.0005)

    async def handle(self, reader, writer):
        with self.lock:
            self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
                body = await reader.readexactly(int(hdrs.get("content-length", "0")))
                with self.lock:
                    self.paths.append((method, path))
                if self.hang:
                    await asyncio.sleep(3600)
                if method == "GET" and path == "/v1/models":
                    await self.send_json(writer, 200, {"object": "list",
                                                       "data": [{"id": "mock-model", "object": "model"}]})
                else:
                    await self.generate(writer, path, json.loads(body))
                served += 1
                if self.close_after and served >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def send_json(self, writer, status, obj):
        body = json.dumps(obj).encode()
        reason = {200: "OK", 500: "Internal Server Error"}.get(status, "X")
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        await self.write_odd(writer, head + body)

    async def generate(self, writer, path, req):
        with self.lock:
            self.requests.append(req)
            nreq = len(self.requests)
        if self.fail_every and nreq % self.fail_every == 0:
            await self.send_json(writer, 500, {"error": {"message": f"mock failure {nreq}",
                                                         "type": "server_error"}})
            return
        chat = path == "/v1/chat/completions"
        prompt = req["messages"][0]["content"] if chat else req["prompt"]
        n_prompt = len(prompt.split()) + (5 if chat else 0)
        n_out = int(req["max_tokens"])
        toks = [f" tok{i}" for i in range(n_out)]
        groups = [toks[i:i + self.tokens_per_chunk] for i in range(0, n_out, self.tokens_per_chunk)]
        usage = {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}
        if not req.get("stream"):
            text = "".join(toks)
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
                      if chat else {"index": 0, "text": text, "finish_reason": "length"})
            obj = {"id": "x", "object": "text_completion", "choices": [choice]}
            if self.usage:
                obj["usage"] = usage
            with self.lock:
                self.sent.append((n_prompt, n_out, 1))
            await self.send_json(writer, 200, obj)
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        await self.write_odd(writer, head)

        async def event(payload, nl="\n"):
            data = payload.encode()
            # Chunked framing with a chunk extension now and then.
            ext = b";x=1" if self.rng.random() < 0.2 else b""
            await self.write_odd(writer, b"%x%s\r\n%s\r\n" % (len(data), ext, data))

        def chunk_of(text, finish=None):
            choice = ({"index": 0, "delta": {"content": text}, "finish_reason": finish}
                      if chat else {"index": 0, "text": text, "finish_reason": finish})
            return {"id": "x", "object": "chunk", "choices": [choice]}

        if chat:  # a role-only first chunk carries no text
            await event("data: " + json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}) + "\n\n")
        await asyncio.sleep(self.first_delay_s)
        for i, g in enumerate(groups):
            if i:
                await asyncio.sleep(self.token_delay_s)
            nl = "\r\n" if i % 3 == 1 else "\n"
            if i % 4 == 2:
                await event(": keep-alive" + nl + nl)
            await event("data: " + json.dumps(chunk_of("".join(g))) + nl + nl)
            if self.sse_error and i == 1:
                await event('event: error\ndata: {"error":{"message":"mock stream error"}}\n\n')
                await self.write_odd(writer, b"0\r\n\r\n")
                return
        await event("data: " + json.dumps(chunk_of("", "length")) + "\n\n")
        if self.usage and req.get("stream_options", {}).get("include_usage"):
            await event("data: " + json.dumps({"id": "x", "choices": [], "usage": usage}) + "\n\n")
        with self.lock:   # before the last bytes: the client may exit right after them
            self.sent.append((n_prompt, n_out, len(groups)))
        await event("data: [DONE]\n\n")
        await self.write_odd(writer, b"0\r\n\r\n")


@pytest.fixture
def mock():
    servers = []

    def make(**opts):
        s = MockServer(**opts)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def load(nirvana, *args, timeout=60):
    return subprocess.run([str(nirvana), "load", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def load_json(nirvana, *args, timeout=60):
    p = load(nirvana, "--json", *args, timeout=timeout)
    return p, json.loads(p.stdout)


def test_stream_counts_and_keepalive(nirvana, mock):
    srv = mock(tokens_per_chunk=3)
    p, r = load_json(nirvana, "--url", srv.url, "-n", 12, "-c", 3, "--max-tokens", 10, "--ignore-eos",
                     "--seed", 7)
    assert p.returncode == 0, p.stderr
    assert r["completed"] == 12 and r["failed"] == 0
    assert r["model_id"] == "mock-model"
    assert ("GET", "/v1/models") in srv.paths
    # usage (10 per request) wins over the chunk count (4 per request)
    assert r["total_output_tokens"] == 12 * 10
    assert r["total_input_tokens"] == sum(s[0] for s in srv.sent)
    assert r["requests_without_usage"] == 0
    # ITL: one gap between consecutive text chunks (4 chunks each)
    assert r["mean_ttft_ms"] > 0 and r["mean_e2el_ms"] >= r["mean_ttft_ms"]
    for key in ("median_ttft_ms", "std_ttft_ms", "p50_ttft_ms", "p95_ttft_ms", "p99_ttft_ms", "mean_tpot_ms",
                "p99_itl_ms", "mean_e2el_ms", "request_throughput", "output_throughput",
                "total_token_throughput", "duration"):
        assert isinstance(r[key], (int, float)), key
    assert r["output_throughput"] == pytest.approx(r["total_output_tokens"] / r["duration"], rel=1e-6)
    # what went over the wire
    gens = srv.requests
    assert len(gens) == 12
    for g in gens:
        assert g["model"] == "mock-model" and g["stream"] is True and g["ignore_eos"] is True
        assert g["stream_options"] == {"include_usage": True}
        assert g["max_tokens"] == 10 and g["temperature"] == 0 and g["seed"] == 7
    prompts = [g["prompt"] for g in gens]
    assert len(set(prompts)) == 12, "synthetic prompts must be unique"
    assert len({" ".join(x.split()[:3]) for x in prompts}) == 12, "prompts must differ from their first words"
    # one connection per slot, kept alive (one more for GET /v1/models)
    assert srv.connections <= 3 + 1


def test_chunk_count_without_usage_and_chat(nirvana, mock):
    srv = mock(tokens_per_chunk=2, usage=False)
    p, r = load_json(nirvana, "--url", srv.url + "/v1", "--endpoint", "chat", "-n", 5, "-c", 2,
                     "--max-tokens", 9, "--model", "m1")
    assert p.returncode == 0, p.stderr
    assert r["completed"] == 5
    assert r["endpoint"] == "/v1/chat/completions"
    assert r["total_output_tokens"] == 5 * 5   # ceil(9 / 2) chunks each
    assert r["total_input_tokens"] == 0
    assert r["requests_without_usage"] == 5
    assert "no usage" in p.stderr
    assert all(g["model"] == "m1" and "messages" in g for g in srv.requests)
    assert ("GET", "/v1/models") not in srv.paths


def test_timing_follows_the_server(nirvana, mock):
    srv = mock(first_delay_s=0.08, token_delay_s=0.01)
    p, r = load_json(nirvana, "--url", srv.url, "-n", 4, "-c", 2, "--max-tokens", 6, "--prompt-len", "short")
    assert p.returncode == 0, p.stderr
    assert 75 <= r["median_ttft_ms"] < 1000
    assert 9 <= r["median_itl_ms"] < 500
    assert 9 <= r["mean_tpot_ms"] < 500
    assert r["mean_e2el_ms"] >= 75 + 5 * 9


def test_http_errors_fail_the_run(nirvana, mock):
    srv = mock(fail_every=3)
    p, r = load_json(nirvana, "--url", srv.url, "-n", 9, "-c", 1, "--max-tokens", 4)
    assert p.returncode != 0
    assert r["failed"] == 3 and r["completed"] == 6
    assert r["total_output_tokens"] == 6 * 4
    assert "HTTP 500" in p.stderr and "mock failure" in p.stderr
    assert any("mock failure" in e for e in r["errors"])


def test_error_event_in_stream(nirvana, mock):
    srv = mock(sse_error=True)
    p, r = load_json(nirvana, "--url", srv.url, "-n", 3, "-c", 3, "--max-tokens", 5)
    assert p.returncode != 0
    assert r["failed"] == 3 and r["completed"] == 0
    assert "mock stream error" in p.stderr


def test_no_stream(nirvana, mock):
    srv = mock()
    p, r = load_json(nirvana, "--url", srv.url, "-n", 4, "-c", 2, "--max-tokens", 7, "--no-stream")
    assert p.returncode == 0, p.stderr
    assert r["total_output_tokens"] == 28
    assert r["mean_ttft_ms"] is None and r["mean_e2el_ms"] > 0
    assert all(not g.get("stream") for g in srv.requests)


def test_server_closing_kept_alive_connections(nirvana, mock):
    srv = mock(close_after=2)
    p, r = load_json(nirvana, "--url", srv.url, "-n", 10, "-c", 2, "--max-tokens", 3, "--warmup", 2)
    assert p.returncode == 0, p.stderr
    assert r["completed"] == 10
    assert len(srv.requests) == 12   # warm-up requests are sent but not counted


def test_timeout_never_hangs(nirvana, mock):
    srv = mock(hang=True)
    t0 = time.monotonic()
    p, r = load_json(nirvana, "--url", srv.url, "--model", "x", "-n", 2, "-c", 2, "--timeout", "0.5")
    assert time.monotonic() - t0 < 10
    assert p.returncode != 0 and r["failed"] == 2
    assert "timeout" in p.stderr


def test_connection_refused(nirvana):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p, r = load_json(nirvana, "--url", f"http://127.0.0.1:{port}", "--model", "x", "-n", 3, "-c", 2)
    assert p.returncode != 0 and r["failed"] == 3
    assert "refused" in p.stderr
    p = load(nirvana, "--url", f"http://127.0.0.1:{port}", "-n", 1)   # model discovery fails clearly
    assert p.returncode != 0 and "/v1/models" in p.stderr


def test_prompts_file(nirvana, mock, tmp_path):
    f = tmp_path / "prompts.txt"
    f.write_text('plain line one\n\n{"prompt": "from jsonl"}\n"a json string"\r\n')
    srv = mock()
    p, r = load_json(nirvana, "--url", srv.url, "--prompts", f, "-n", 6, "--max-tokens", 2)
    assert p.returncode == 0, p.stderr
    assert [g["prompt"] for g in srv.requests] == ["plain line one", "from jsonl", "a json string"] * 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"nope": 1}\n')
    p = load(nirvana, "--url", srv.url, "--prompts", bad, "-n", 1)
    assert p.returncode != 0 and "bad.jsonl:1" in p.stderr


def test_human_table_and_usage_errors(nirvana, mock):
    srv = mock()
    p = load(nirvana, "--url", srv.url, "-n", 2, "--max-tokens", 3, "--prompt-len", 20)
    assert p.returncode == 0, p.stderr
    assert "Serving Benchmark Result" in p.stdout
    assert "Successful requests:" in p.stdout and "Mean TTFT (ms):" in p.stdout
    assert "P99 ITL (ms):" in p.stdout
    prompt = srv.requests[0]["prompt"]
    assert 12 <= len(prompt.split()) <= 24
    for bad in (["-c", "0"], ["--endpoint", "x"], ["--url", "https://a"], ["--prompt-len", "huge"],
                ["--url", "http://h:99999"], ["stray"]):
        q = load(nirvana, *bad)
        assert q.returncode == 2, bad
    q = load(nirvana, "--help")
    assert q.returncode == 0 and "--ignore-eos" in q.stdout
