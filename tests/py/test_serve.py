"""`nirvana serve` end to end: a real server process on the default model,
real clients (curl, the official `openai` package, raw sockets), and the
Prometheus text read by `prometheus_client`'s parser.

Every test keeps generation short (the model decodes ~100 tokens/s on two
threads), so the whole file runs in a few minutes.
"""
import http.client
import json
import os
import pathlib
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# 1,000 idle connections plus the server's own: raise the descriptor limit
# here, before any server starts, so the servers inherit it.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < 4096 <= _hard or (_hard == resource.RLIM_INFINITY and _soft < 4096):
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, _hard))


class Server:
    """One `nirvana serve` process on a free port, stopped with SIGTERM."""

    def __init__(self, nirvana, model, workdir, name, config=None, args=()):
        self.cmd = [str(nirvana), "serve", "-m", str(model), "--port", "0", "-t", "2", *map(str, args)]
        if config is not None:
            path = pathlib.Path(workdir) / f"{name}.json"
            path.write_text(json.dumps(config))
            self.cmd += ["--config", str(path)]
        self.log = pathlib.Path(workdir) / f"{name}.log"
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "wb"), stdin=subprocess.DEVNULL)
        deadline = time.time() + 120
        self.port = None
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.log.read_text()}")
            m = re.search(r"on http://127\.0\.0\.1:(\d+)", self.log.read_text(errors="replace"))
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.1)
        assert self.port, f"server did not start: {self.log.read_text()}"
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("the server ignored SIGTERM")
        return self.proc.returncode

    def alive(self):
        return self.proc.poll() is None

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, headers dict, body bytes) over a fresh connection."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def json(self, method, path, body=None, headers=None, timeout=60):
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        return status, json.loads(data)

    def metrics(self):
        from prometheus_client.parser import text_string_to_metric_families
        status, hdrs, data = self.request("GET", "/metrics")
        assert status == 200
        assert hdrs["content-type"].startswith("text/plain")
        out = {}
        for fam in text_string_to_metric_families(data.decode()):
            for s in fam.samples:
                key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                                if s.labels else "")
                out[key] = s.value
        return out


@pytest.fixture(scope="module")
def server(nirvana, default_model, workdir):
    s = Server(nirvana, default_model, workdir, "main",
               config={"engine": {"context": 512},
                       # a loaded CI box may queue the 200-stream test for long
                       "limits": {"max_tokens": 256, "timeout_ms": 600000}})
    yield s
    assert s.stop() == 0, s.log.read_text()


@pytest.fixture(scope="module")
def tight(nirvana, default_model, workdir):
    """Short timeouts, a tiny queue, a KV pool for one sequence, an API key."""
    s = Server(nirvana, default_model, workdir, "tight", config={
        "listen": {"api_key": "sk-test-123"},
        "engine": {"context": 128, "kv_blocks": 8, "block_tokens": 16},
        "limits": {"max_running": 2, "queue": 2, "header_timeout_ms": 600,
                   "body_timeout_ms": 600, "max_tokens": 120, "timeout_ms": 600000},
    })
    yield s
    assert s.stop() == 0, s.log.read_text()


AUTH = {"Authorization": "Bearer sk-test-123"}


def error_of(body):
    e = body["error"]
    assert set(e) >= {"message", "type", "param", "code"}, body
    return e


def openai_client(server, key="none"):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=120)


# ---- the happy paths ----

def test_banner_has_a_curl_that_works(server):
    text = server.log.read_text()
    m = re.search(r"^(curl .*?)\n\n", text, re.S | re.M)
    assert m, text
    cmd = m.group(1).replace("\\\n", " ")
    assert shutil.which("curl"), "curl is needed (tools/common.sh installs it)"
    out = subprocess.run(["bash", "-c", cmd.replace("\"max_tokens\": 64", "\"max_tokens\": 8")],
                         capture_output=True, text=True, timeout=120)
    body = json.loads(out.stdout)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]


def test_models(server):
    status, body = server.json("GET", "/v1/models")
    assert status == 200
    assert body["object"] == "list"
    assert body["data"][0]["id"] == "SmolLM2-135M-Instruct.Q4_1"
    assert body["data"][0]["object"] == "model"


def test_completion_with_curl(server):
    out = subprocess.run(["curl", "-s", "-S", server.url + "/v1/completions",
                          "-H", "Content-Type: application/json",
                          "-d", json.dumps({"prompt": "The capital of France is", "max_tokens": 8,
                                            "temperature": 0})],
                         capture_output=True, text=True, timeout=120)
    body = json.loads(out.stdout)
    assert body["id"].startswith("cmpl-")
    assert body["object"] == "text_completion"
    assert isinstance(body["created"], int)
    c = body["choices"][0]
    assert c["index"] == 0 and c["finish_reason"] in ("stop", "length")
    assert "Paris" in c["text"]
    u = body["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert u["completion_tokens"] <= 8


def test_ids_are_unique(server):
    ids = set()
    for _ in range(3):
        status, body = server.json("POST", "/v1/completions", {"prompt": "Hi", "max_tokens": 1})
        ids.add(body["id"])
    assert len(ids) == 3


def test_openai_completion_stream_equals_whole(server):
    client = openai_client(server)
    args = dict(model="SmolLM2-135M-Instruct.Q4_1", prompt="Once upon a time", max_tokens=24,
                temperature=0.9, seed=1234)
    whole = client.completions.create(**args)
    parts = list(client.completions.create(stream=True, **args))
    text = "".join(p.choices[0].text for p in parts if p.choices)
    assert text == whole.choices[0].text
    assert parts[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    assert whole.usage.completion_tokens >= 1


def test_openai_chat_stream_equals_whole(server):
    client = openai_client(server)
    args = dict(model="SmolLM2-135M-Instruct.Q4_1", max_tokens=24, temperature=0.7, seed=77,
                messages=[{"role": "system", "content": "You are terse."},
                          {"role": "user", "content": "Name a color."}])
    whole = client.chat.completions.create(**args)
    assert whole.object == "chat.completion"
    assert whole.choices[0].message.role == "assistant"
    parts = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                                **args))
    assert parts[0].choices[0].delta.role == "assistant"
    text = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
    assert text == whole.choices[0].message.content
    assert parts[-1].choices == [] and parts[-1].usage is not None
    assert parts[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert parts[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_raw_sse_framing(server):
    status, hdrs, data = server.request("POST", "/v1/completions",
                                        {"prompt": "Hello", "max_tokens": 4, "stream": True})
    assert status == 200
    assert hdrs["content-type"].startswith("text/event-stream")
    events = data.decode().split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    for e in events[:-2]:
        assert e.startswith("data: ")
        json.loads(e[6:])


def test_stop_string_is_excluded(server):
    base = {"prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}
    status, full = server.json("POST", "/v1/completions", base)
    text = full["choices"][0]["text"]
    assert len(text) > 6, text
    stop = text[3:6]
    status, cut = server.json("POST", "/v1/completions", dict(base, stop=[stop]))
    assert cut["choices"][0]["text"] == text[:text.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"
    status, hdrs, data = server.request("POST", "/v1/completions", dict(base, stop=stop, stream=True))
    chunks = [json.loads(e[6:]) for e in data.decode().split("\n\n") if e.startswith("data: {")]
    streamed = "".join(c["choices"][0]["text"] for c in chunks)
    assert streamed == text[:text.index(stop)], "a streamed stop string leaked"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_logprobs_shapes(server):
    status, body = server.json("POST", "/v1/completions",
                               {"prompt": "Hello", "max_tokens": 3, "logprobs": 2, "temperature": 0})
    lp = body["choices"][0]["logprobs"]
    assert status == 200 and lp is not None, body
    n = body["usage"]["completion_tokens"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == n
    assert all(v <= 0 for v in lp["token_logprobs"])
    status, body = server.json("POST", "/v1/chat/completions",
                               {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3,
                                "logprobs": True, "top_logprobs": 2, "temperature": 0})
    content = body["choices"][0]["logprobs"]["content"]
    assert content and {"token", "logprob", "bytes", "top_logprobs"} <= set(content[0])
    assert len(content[0]["top_logprobs"]) == 2


def test_tokenize_detokenize(server):
    status, body = server.json("POST", "/tokenize", {"content": "Hello world"})
    assert status == 200 and body["tokens"] == [19556, 905]
    status, body2 = server.json("POST", "/tokenize", {"prompt": "Hello world", "with_pieces": True})
    assert [t["id"] for t in body2["tokens"]] == [19556, 905]
    assert "".join(t["piece"] for t in body2["tokens"]) == "Hello world"
    status, body = server.json("POST", "/detokenize", {"tokens": [19556, 905]})
    assert status == 200 and body["content"] == "Hello world"
    status, body = server.json("POST", "/detokenize", {"tokens": [10 ** 9]})
    assert status == 400 and error_of(body)["param"] == "tokens"


# ---- bad requests: the right status and body, and the server keeps serving ----

BAD = [
    ("/v1/completions", "{\"prompt\": ", 400, None),
    ("/v1/completions", {"prompt": 5}, 400, "prompt"),
    ("/v1/completions", {"prompt": "x", "max_tokens": "ten"}, 400, "max_tokens"),
    ("/v1/completions", {"prompt": "x", "max_tokens": -3}, 400, "max_tokens"),
    ("/v1/completions", {"prompt": "x", "n": 2}, 400, "n"),
    ("/v1/completions", {"prompt": "x", "temperature": "warm"}, 400, "temperature"),
    ("/v1/completions", {"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
    ("/v1/completions", {"prompt": "x", "max_tokens": 100000}, 400, "max_tokens"),
    ("/v1/completions", {"prompt": "x", "model": "gpt-17"}, 404, "model"),
    ("/v1/chat/completions", {"messages": "hi"}, 400, "messages"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": 1}]}, 400, "messages[0].content"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400, "stream"),
]


@pytest.mark.parametrize("path,body,status,param", BAD)
def test_bad_request(server, path, body, status, param):
    got, hdrs, data = server.request("POST", path, body)
    assert got == status, data
    assert hdrs["content-type"].startswith("application/json")
    e = error_of(json.loads(data))
    assert e["param"] == param
    assert e["message"]
    assert server.json("GET", "/health")[0] == 200


def test_routes_and_methods(server):
    status, hdrs, data = server.request("GET", "/v2/nothing")
    assert status == 404 and error_of(json.loads(data))
    status, hdrs, data = server.request("GET", "/v1/completions")
    assert status == 405 and hdrs.get("allow") == "POST"
    status, hdrs, data = server.request("POST", "/health", "{}")
    assert status == 405 and hdrs.get("allow") == "GET"


def test_body_too_large(server):
    big = json.dumps({"prompt": "x" * (1 << 20)})
    status, hdrs, data = server.request("POST", "/v1/completions", big)
    assert status == 413
    assert server.json("GET", "/health")[0] == 200


def test_header_flood(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Flood: " + b"a" * 20000 + b"\r\n\r\n")
    data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 431"), data[:100]
    s.close()
    assert server.json("GET", "/health")[0] == 200


def test_half_request_then_stall_is_closed(tight):
    """Header and body timeouts (600 ms in this server's config) close stalled clients."""
    for partial in (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n",
                    b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro"):
        s = socket.create_connection(("127.0.0.1", tight.port), timeout=10)
        t0 = time.time()
        s.sendall(partial)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        took = time.time() - t0
        s.close()
        assert took < 5, f"stalled connection held {took:.1f}s"
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:80]
    assert tight.json("GET", "/health")[0] == 200


def test_api_key(tight):
    body = {"prompt": "Hi", "max_tokens": 1}
    status, b = tight.json("POST", "/v1/completions", body)
    assert status == 401 and error_of(b)["code"] == "invalid_api_key"
    status, b = tight.json("POST", "/v1/completions", body, {"Authorization": "Bearer wrong"})
    assert status == 401
    status, b = tight.json("GET", "/v1/models")
    assert status == 401
    status, b = tight.json("POST", "/v1/completions", body, AUTH)
    assert status == 200, b
    assert tight.json("GET", "/health")[0] == 200, "/health needs no key"
    client = openai_client(tight, key="sk-test-123")
    assert client.models.list().data[0].id


def test_queue_overflow_is_an_immediate_503(tight):
    """At most 2 running + 2 queued (fewer run when the 16 KV blocks hold only one
    sequence): the other requests get 503 with Retry-After at once."""
    results = []
    lock = threading.Lock()

    def one():
        t0 = time.time()
        try:
            status, hdrs, data = tight.request("POST", "/v1/completions",
                                               {"prompt": "Count: 1, 2, 3,", "max_tokens": 24,
                                                "ignore_eos": True}, AUTH, timeout=600)
        except OSError as e:
            status, hdrs = f"client error {e}", {}
        with lock:
            results.append((status, time.time() - t0, hdrs))

    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rejected = [r for r in results if r[0] == 503]
    served = [r for r in results if r[0] == 200]
    assert len(served) >= 3 and len(rejected) >= 5, [r[0] for r in results]
    assert len(served) + len(rejected) == 10
    for status, took, hdrs in rejected:
        assert hdrs.get("retry-after"), hdrs
        assert took < 1.0, f"a 503 took {took:.2f}s"
    m = tight.metrics()
    assert m['nirvana_requests_total{outcome=rejected}'] >= len(rejected)
    assert tight.json("GET", "/health")[1]["status"] != "unhealthy", "overload is not a failure"


def test_degraded_when_kv_runs_short(tight):
    """8 KV blocks of 16 positions: one sequence of 115+ positions references
    more than 90% of them."""
    seen = []
    done = threading.Event()
    answer = []

    def long_request():
        try:
            answer.append(tight.request("POST", "/v1/completions",
                                        {"prompt": "Tell me a story.", "max_tokens": 118,
                                         "ignore_eos": True, "temperature": 0}, AUTH, timeout=600)[0])
        except OSError as e:
            answer.append(f"client error: {e!r}")
        finally:
            done.set()

    t = threading.Thread(target=long_request)
    t.start()
    deadline = time.time() + 600
    while not done.is_set() and time.time() < deadline:
        status, body = tight.json("GET", "/health")
        seen.append((status, body["status"], body["memory"]["kv_blocks_used"]))
        time.sleep(0.1)
    t.join(timeout=1)
    assert answer == [200], answer
    assert any(s == "degraded" for _, s, _ in seen), seen
    assert all(code == 200 for code, s, _ in seen if s == "degraded")
    status, body = tight.json("GET", "/health")
    assert body["status"] == "healthy" and body["memory"]["kv_blocks_used"] == 0


# ---- concurrency, connections, metrics, memory ----

def stream_client(port, i, disconnect, results):
    body = json.dumps({"prompt": f"Request {i}: write a list of fruits.", "max_tokens": 12,
                       "stream": True, "ignore_eos": True, "seed": i}).encode()
    data = b""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=600)
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if disconnect and data.count(b"data: {") >= 2:
                s.close()
                results[i] = "left"
                return
    except OSError as e:
        results[i] = f"error {e}"
        return
    s.close()
    complete = b"data: [DONE]" in data and b"\"error\"" not in data and b"\"finish_reason\":\"length\"" in data
    results[i] = "ok" if complete and data.startswith(b"HTTP/1.1 200") else data[-300:]


def wait_idle(server, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = server.metrics()
        if m["nirvana_requests_running"] == 0 and m["nirvana_requests_waiting"] == 0 \
                and m["nirvana_kv_blocks{state=used}"] == 0:
            return m
        time.sleep(0.2)
    raise AssertionError(f"the server did not go idle: {m}")


def test_200_streams_20_leave(server):
    results = {}
    threads = [threading.Thread(target=stream_client, args=(server.port, i, i % 10 == 0, results))
               for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert len(results) == 200, f"{200 - len(results)} clients never finished"
    left = [i for i, r in results.items() if r == "left"]
    ok = [i for i, r in results.items() if r == "ok"]
    bad = {i: r for i, r in results.items() if r not in ("ok", "left")}
    assert not bad, list(bad.items())[:3]
    assert len(left) == 20 and len(ok) == 180
    m = wait_idle(server)
    assert m["nirvana_kv_blocks{state=free}"] > 0
    assert m["nirvana_requests_total{outcome=cancelled}"] >= 1


def test_1000_idle_connections(server):
    idle = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        t0 = time.time()
        for _ in range(3):
            status, body = server.json("POST", "/v1/completions", {"prompt": "Hi", "max_tokens": 4})
            assert status == 200, body
        assert time.time() - t0 < 30
        m = server.metrics()
        assert m["nirvana_http_connections_open"] >= 1000
    finally:
        for s in idle:
            s.close()
    assert server.json("GET", "/health")[0] == 200


def test_metrics_move(server):
    before = server.metrics()
    for name in ("nirvana_time_to_first_token_seconds_count", "nirvana_inter_token_latency_seconds_count",
                 "nirvana_e2e_request_latency_seconds_count", "nirvana_request_queue_time_seconds_count",
                 "nirvana_prompt_tokens_total", "nirvana_generation_tokens_total",
                 "nirvana_requests_running", "nirvana_requests_waiting",
                 "nirvana_kv_blocks{state=used}", "nirvana_kv_blocks{state=cached}",
                 "nirvana_kv_blocks{state=free}", "nirvana_process_resident_memory_bytes"):
        assert name in before, name
    status, body = server.json("POST", "/v1/completions", {"prompt": "One two three", "max_tokens": 5,
                                                            "ignore_eos": True})
    assert status == 200
    after = server.metrics()
    assert after["nirvana_generation_tokens_total"] - before["nirvana_generation_tokens_total"] == 5
    assert after["nirvana_prompt_tokens_total"] - before["nirvana_prompt_tokens_total"] == \
        body["usage"]["prompt_tokens"]
    assert after["nirvana_time_to_first_token_seconds_count"] == \
        before["nirvana_time_to_first_token_seconds_count"] + 1
    assert after["nirvana_inter_token_latency_seconds_count"] == \
        before["nirvana_inter_token_latency_seconds_count"] + 4
    assert after["nirvana_requests_total{outcome=length}"] == before["nirvana_requests_total{outcome=length}"] + 1
    if "nirvana_jemalloc_bytes{stat=resident}" in after:
        assert after["nirvana_jemalloc_bytes{stat=allocated}"] > 0


def test_jemalloc_is_the_allocator(nirvana, server):
    """When the binary links jemalloc, it is the process's malloc and its statistics are served."""
    ldd = subprocess.run(["ldd", str(nirvana)], capture_output=True, text=True).stdout
    if "libjemalloc" not in ldd:
        pytest.skip("built without jemalloc (libjemalloc-dev missing)")
    m = server.metrics()
    # the request table and buffers live on jemalloc's heap: megabytes, not a few pages
    assert m["nirvana_jemalloc_bytes{stat=allocated}"] > 1 << 20
    assert m["nirvana_jemalloc_bytes{stat=resident}"] >= m["nirvana_jemalloc_bytes{stat=allocated}"] * 0.5
    assert any(k.startswith("nirvana_jemalloc_arena_resident_bytes") for k in m)
    status, body = server.json("GET", "/health")
    assert body["memory"]["jemalloc"]["allocated"] > 1 << 20


def test_health(server):
    status, body = server.json("GET", "/health")
    assert status == 200 and body["status"] == "healthy"
    assert body["models"][0]["id"] == "SmolLM2-135M-Instruct.Q4_1"
    mem = body["memory"]
    assert mem["rss_bytes"] > 0 and mem["model_bytes"] > 0 and mem["kv_blocks_total"] > 0
    assert body["requests"]["total"] >= 1
    assert "recent_error_rate" in body["requests"]
    assert body["uptime_s"] > 0


def test_memory_stops_growing(server):
    """Thousands of short requests: jemalloc's resident bytes level off."""
    def batch(n, conns=8):
        def worker(k):
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            for j in range(k):
                c.request("POST", "/v1/completions",
                          body=json.dumps({"prompt": f"Hi {j}", "max_tokens": 1,
                                           "stream": j % 2 == 0}),
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                assert r.status == 200
            c.close()
        ts = [threading.Thread(target=worker, args=(n // conns,)) for _ in range(conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def resident():
        m = server.metrics()
        return m.get("nirvana_jemalloc_bytes{stat=resident}", m["nirvana_process_resident_memory_bytes"])

    batch(400)
    r1 = resident()
    batch(800)
    r2 = resident()
    batch(800)
    r3 = resident()
    grow = r3 - r2
    assert grow < 4 << 20, f"resident memory still grows: {r1} -> {r2} -> {r3}"


def test_sigterm_stops_cleanly(nirvana, default_model, workdir):
    s = Server(nirvana, default_model, workdir, "stop", config={"engine": {"context": 256}})
    assert s.json("GET", "/health")[0] == 200
    assert s.stop() == 0
    assert "stopped" in s.log.read_text()


def test_bad_config_is_refused(nirvana, default_model, workdir):
    cfg = pathlib.Path(workdir) / "bad.json"
    cfg.write_text(json.dumps({"limits": {"queue": "many"}}))
    r = subprocess.run([str(nirvana), "serve", "-m", str(default_model), "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "bad.json: limits.queue: expected an integer" in r.stderr
    cfg.write_text(json.dumps({"limits": {"queue_size": 5}}))
    r = subprocess.run([str(nirvana), "serve", "-m", str(default_model), "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "limits.queue_size: unknown key" in r.stderr
