"""`charlstm serve` over HTTP: the official openai client, every error status, SSE framing,
determinism while other requests share the batch, disconnects, queue full, the key, SIGTERM.

Each server is a subprocess on a port the OS picks (helpers.ServerProcess) over the
session's tiny trained run. `server` runs the default (one product for the batch): what it
promises is tested there (a request alone is the CLI's text; the same batch gives the same
text; every OpenAI-visible behaviour); `exact_server` runs `--exact`, whose texts equal the
CLI's whatever shares the batch.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from urllib.parse import urlsplit

import pytest

from helpers import ServerProcess, invoke

pytestmark = pytest.mark.slow
LONG = 10**6  # characters: a stream that outlives any test (the tiny model steps in ~30 µs)
openai = pytest.importorskip("openai", reason="the openai client is in the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def server(trained_run):
    s = ServerProcess(
        trained_run, "--model-name", "tiny", "--max-batch", "16", "--max-body", "4096", "--max-tokens-limit", LONG
    )
    yield s
    assert s.stop() == 0, "".join(s.log)


@pytest.fixture(scope="module")
def exact_server(trained_run):
    s = ServerProcess(trained_run, "--exact", "--max-batch", "16")
    yield s
    assert s.stop() == 0, "".join(s.log)


def request(url, method, path, body=None, headers=None, raw=None):
    """(status, headers, body bytes) of one plain HTTP request."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    r = conn.getresponse()
    out = r.status, dict(r.getheaders()), r.read()
    conn.close()
    return out


def sse_events(url, body, headers=None):
    """The raw text of a streamed completion, and its events split on the blank lines."""
    status, head, data = request(url, "POST", "/v1/completions", {**body, "stream": True}, headers)
    assert status == 200, data
    assert head["content-type"].startswith("text/event-stream")
    text = data.decode()
    return text, text.split("\n\n")


def client(server, **kw):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=kw.pop("api_key", "none"), max_retries=0, **kw)


def test_openai_client_models_completion_stream_and_seed(server, trained_run):
    """Also: a request alone in the default server is the CLI's text. One row is a (1, units) product, the
    product `generate` computes for its one sample, whichever way the server steps its batch."""
    import charlstm

    c = client(server)
    assert [m.id for m in c.models.list().data] == ["tiny"]
    a = c.completions.create(model="tiny", prompt="the cat", max_tokens=40, seed=5, temperature=0.8)
    b = c.completions.create(model="tiny", prompt="the cat", max_tokens=40, seed=5, temperature=0.8)
    assert a.choices[0].text == b.choices[0].text and len(a.choices[0].text) == 40
    assert a.choices[0].finish_reason == "length"
    assert a.usage.prompt_tokens == 7 and a.usage.completion_tokens == 40
    model = charlstm.load(trained_run)
    assert a.choices[0].text == model.generate(prime="the cat", length=40, seed=5, temperature=0.8, echo_prime=False)
    pieces = list(
        c.completions.create(model="tiny", prompt="the cat", max_tokens=40, seed=5, temperature=0.8, stream=True)
    )
    assert "".join(p.choices[0].text for p in pieces) == a.choices[0].text
    assert pieces[-1].choices[0].finish_reason == "length"
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model="tiny", prompt="the cat", max_tokens=5, temperature=-1)
    assert e.value.body["param"] == "temperature" and "is not in the range 0<=x<=100" in e.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        c.completions.create(model="gpt-4", prompt="x", max_tokens=5)


def test_n_and_prompt_lists_are_the_cli_samples(exact_server, trained_run, runner):
    """--exact: choice k of n is `generate --sample-index k`; several prompts get n choices each."""
    r = request(
        exact_server.url,
        "POST",
        "/v1/completions",
        {"prompt": ["the dog", "a cat"], "n": 3, "max_tokens": 30, "seed": 11},
    )
    choices = json.loads(r[2])["choices"]
    assert [c["index"] for c in choices] == list(range(6))
    for k, c in enumerate(choices):
        prime = ["the dog", "a cat"][k // 3]
        cli = invoke(
            runner,
            "generate",
            "-c",
            trained_run,
            "--prime",
            prime,
            "--length",
            30,
            "--seed",
            11,
            "--sample-index",
            k % 3,
            "--no-echo-prime",
        )
        assert cli.exit_code == 0, cli.output
        assert c["text"] == cli.output[:-1]  # the CLI ends with a newline


def test_text_is_the_clis_while_other_requests_share_the_batch(exact_server, trained_run):
    """--exact: different options joining and leaving at different steps: each text equals Model.generate's."""
    import charlstm

    model = charlstm.load(trained_run)
    cases = [
        {"prompt": "the cat sat", "seed": 1, "max_tokens": 300, "temperature": 1.0},
        {"prompt": "a", "seed": 2, "max_tokens": 200, "temperature": 0.5, "top_k": 3},
        {"prompt": "on the mat.\n" * 5, "seed": 3, "max_tokens": 150, "top_p": 0.9, "stop": "log"},
        {"prompt": "the dog", "seed": 4, "max_tokens": 100, "temperature": 0},
        {"prompt": "the", "seed": 5, "max_tokens": 250, "temperature": 1.3, "stop": ["mat", "dog"]},
    ] * 2
    results = [None] * len(cases)

    def run(k):
        time.sleep(0.01 * k)  # join at different steps
        results[k] = request(exact_server.url, "POST", "/v1/completions", cases[k])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for case, (status, _, body) in zip(cases, results):
        assert status == 200, body
        stop = case.get("stop")
        want = model.generate(
            prime=case["prompt"],
            length=case["max_tokens"],
            seed=case["seed"],
            temperature=case.get("temperature", 1.0),
            top_k=case.get("top_k"),
            top_p=case.get("top_p"),
            stop=stop if isinstance(stop, str) else None,
            echo_prime=False,
        )
        got = json.loads(body)["choices"][0]["text"]
        if isinstance(stop, list):  # the CLI takes one stop string: cut its text at the first of them
            cut = min([want.find(s) for s in stop if s in want] or [len(want)])
            want = want[:cut]
        assert got == want, case


def test_sse_framing_is_openais(server):
    text, events = sse_events(
        server.url, {"prompt": "the", "max_tokens": 2000, "seed": 1, "stream_options": {"include_usage": True}}
    )
    assert text.endswith("data: [DONE]\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: {") and "\n" not in e for e in events[:-2])
    assert len(chunks) > 2  # pieces as they come, not the whole text at the end
    assert all(c["object"] == "text_completion" and c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2000
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1] if c["choices"])
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]][-1] == "length"


def test_echo_and_logprobs(server):
    r = json.loads(
        request(
            server.url,
            "POST",
            "/v1/completions",
            {"prompt": "the cat", "max_tokens": 10, "seed": 1, "echo": True, "logprobs": 2},
        )[2]
    )
    c = r["choices"][0]
    assert c["text"].startswith("the cat") and len(c["text"]) == 17
    lp = c["logprobs"]
    assert "".join(lp["tokens"]) == c["text"][7:]
    assert lp["text_offset"] == list(range(7, 17))
    for tok, p, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
        assert len(top) == 2 and p <= 0 and max(top.values()) >= p
        assert top.get(tok, p) == p
        assert sorted(top.values(), reverse=True) == list(top.values())


@pytest.mark.parametrize(
    "body,status,param",
    [
        ({"prompt": "the", "max_tokens": 0}, 400, "max_tokens"),
        ({"prompt": "the", "max_tokens": LONG + 1}, 400, "max_tokens"),
        ({"prompt": "the", "top_p": 0}, 400, "top_p"),
        ({"prompt": "the", "top_k": 0}, 400, "top_k"),
        ({"prompt": "the", "seed": -1}, 400, "seed"),
        ({"prompt": "the", "n": 0}, 400, "n"),
        ({"prompt": "the", "n": 17}, 400, "n"),
        ({"prompt": "the", "temperature": "hot"}, 400, "temperature"),
        ({"prompt": "the", "logprobs": 6}, 400, "logprobs"),
        ({"prompt": "the", "stop": ""}, 400, "stop"),
        ({"prompt": "the", "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
        ({"prompt": "THE €"}, 400, "prompt"),
        ({"prompt": ""}, 400, "prompt"),
        ({"prompt": [1, 2]}, 400, "prompt"),
        ({"prompt": "the", "on_unknown": "drop"}, 400, "on_unknown"),
        ({"prompt": "the", "model": "other"}, 404, "model"),
    ],
)
def test_bad_requests_get_openai_error_objects(server, body, status, param):
    code, _, data = request(server.url, "POST", "/v1/completions", body)
    err = json.loads(data)["error"]
    assert code == status and err["param"] == param, err
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"


def test_other_error_statuses(server):
    """Each answered as an OpenAI error object, while a stream runs on undisturbed."""
    conn, stream = long_stream(server.url)
    code, _, data = request(server.url, "POST", "/v1/completions", raw=b"{not json")
    assert code == 400 and "not valid JSON" in json.loads(data)["error"]["message"]
    code, _, data = request(server.url, "POST", "/v1/completions", raw=b'{"prompt": "the", "temperature": NaN}')
    assert code == 400
    code, _, data = request(server.url, "POST", "/v1/completions", raw=b" " * 5000)
    assert code == 413 and json.loads(data)["error"]["code"] == "request_too_large"
    code, _, data = request(server.url, "GET", "/v1/nothing")
    assert code == 404 and json.loads(data)["error"]["message"] == "Invalid URL (GET /v1/nothing)"
    code, _, data = request(server.url, "POST", "/v1/chat/completions", {"messages": []})
    assert code == 404 and "completion model" in json.loads(data)["error"]["message"]
    code, _, data = request(server.url, "GET", "/v1/completions")
    assert code == 405 and "error" in json.loads(data)
    code, _, data = request(server.url, "GET", "/v1/models/tiny")
    assert code == 200 and json.loads(data)["id"] == "tiny"
    assert request(server.url, "GET", "/v1/models/other")[0] == 404
    # and the server is unharmed: the stream goes on, new requests are served
    assert stream.readline() == b"\n" and stream.readline().startswith(b"data: {")
    assert request(server.url, "POST", "/v1/completions", {"prompt": "the", "max_tokens": 3})[0] == 200
    conn.close()
    wait_idle(server.url)


def test_no_cors_headers_without_cors_origin(server):
    _, head, _ = request(server.url, "GET", "/v1/models", headers={"Origin": "http://elsewhere.example"})
    assert not any(h.lower().startswith("access-control-") for h in head)


def running(url) -> int:
    return json.loads(request(url, "GET", "/health")[2])["running"]


def wait_idle(url) -> None:
    """Every row has left the batch within 10 s (a stream of LONG characters would take minutes)."""
    for _ in range(200):
        if running(url) == 0:
            return
        time.sleep(0.05)
    assert running(url) == 0


def long_stream(url, headers=None):
    """A streamed completion that outlives the test, its first event read: (connection, response)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    body = json.dumps({"prompt": "the", "max_tokens": LONG, "stream": True, "seed": 1})
    conn.request("POST", "/v1/completions", body, {**(headers or {}), "Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200 and r.readline().startswith(b"data: {")
    return conn, r


def test_a_client_that_disconnects_leaves_the_batch(server):
    conn, _ = long_stream(server.url)
    assert running(server.url) == 1
    conn.sock.close()  # gone mid-stream
    conn.close()
    wait_idle(server.url)


def test_a_plain_request_whose_client_leaves_stops_too(server):
    u = urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request(
        "POST",
        "/v1/completions",
        json.dumps({"prompt": "the", "max_tokens": LONG}),
        {"Content-Type": "application/json"},
    )
    for _ in range(200):  # until it is generating
        if running(server.url) == 1:
            break
        time.sleep(0.05)
    assert running(server.url) == 1
    conn.close()  # gone before the answer
    wait_idle(server.url)


def test_api_key_queue_full_and_cors(trained_run):
    s = ServerProcess(
        trained_run,
        "--api-key",
        "s3cret",
        "--max-batch",
        "1",
        "--max-queue",
        "0",
        "--max-tokens-limit",
        LONG,
        "--cors-origin",
        "http://app.example",
    )
    try:
        assert request(s.url, "GET", "/v1/models")[0] == 401
        code, _, data = request(s.url, "GET", "/v1/models", headers={"Authorization": "Bearer wrong"})
        assert code == 401 and json.loads(data)["error"]["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            client(s, api_key="wrong").models.list()
        key = {"Authorization": "Bearer s3cret"}
        assert request(s.url, "GET", "/v1/models", headers=key)[0] == 200
        assert request(s.url, "GET", "/health")[0] == 200  # health needs no key
        _, head, _ = request(s.url, "GET", "/v1/models", headers={**key, "Origin": "http://app.example"})
        assert head.get("access-control-allow-origin") == "http://app.example"
        # one row fills the batch and there is no queue: the next request gets 503
        conn, _ = long_stream(s.url, key)
        code, head, data = request(s.url, "POST", "/v1/completions", {"prompt": "the", "max_tokens": 5}, headers=key)
        assert code == 503 and json.loads(data)["error"]["code"] == "server_overloaded" and head["retry-after"] == "1"
        conn.close()
    finally:
        assert s.stop() == 0


def test_sigterm_ends_streams_cleanly_and_exits_0_without_tensorflow(trained_run):
    s = ServerProcess(trained_run, "--shutdown-grace", "1", "--max-tokens-limit", LONG)
    _, r = long_stream(s.url)
    with open(f"/proc/{s.proc.pid}/maps") as f:
        assert "tensorflow" not in f.read()  # TensorFlow's libraries were never loaded
    s.proc.terminate()
    rest = r.read().decode()  # the stream ends (cut after the grace), not dropped
    assert rest.endswith('"finish_reason":"length"}]}\n\ndata: [DONE]\n\n'), rest[-300:]
    assert s.stop() == 0, "".join(s.log)


@pytest.mark.parametrize(
    "host,key,warned", [("0.0.0.0", None, True), ("0.0.0.0", "k", False), ("127.0.0.1", None, False)]
)
def test_binding_beyond_loopback_without_a_key_warns(trained_run, monkeypatch, host, key, warned):
    import charlstm
    from charlstm.serve import run
    from charlstm.serve.settings import Settings

    started = []
    monkeypatch.setattr(run._Uvicorn, "run", lambda self: started.append(self.config.host))  # bind nothing
    warnings: list[str] = []
    run.serve(charlstm.load(trained_run), Settings(host=host, api_key=key), warn=warnings.append)
    assert started == [host]
    assert bool(warnings) == warned and all("without --api-key" in w for w in warnings)


def test_the_default_server_repeats_its_batches(server):
    """The default: one product for the batch; the same request (the same batch) gives the same choices,
    also with a stop string and logprobs (rows that take the general path beside the plain ones)."""
    body = {"prompt": ["the ", "a cat"], "max_tokens": 60, "seed": 3, "n": 3, "temperature": 1.2}
    first, again = (json.loads(request(server.url, "POST", "/v1/completions", body)[2]) for _ in range(2))
    texts = [c["text"] for c in first["choices"]]
    assert texts == [c["text"] for c in again["choices"]] and all(len(t) == 60 for t in texts)
    assert len(set(texts[:3])) == 3  # each choice its own stream
    body |= {"stop": texts[4][20:22], "logprobs": 1}
    first, again = (json.loads(request(server.url, "POST", "/v1/completions", body)[2]) for _ in range(2))
    assert first["choices"] == again["choices"]
    assert all(body["stop"] not in c["text"] and c["logprobs"]["tokens"] for c in first["choices"])


def test_stream_interval_joins_a_streams_characters_into_fewer_events(trained_run, server):
    """`serve --stream-interval 0.05`: the same text as every-character streaming, in far fewer events,
    the first of them at once (a long stream of the tiny model takes ~30 µs a character)."""
    s = ServerProcess(trained_run, "--stream-interval", "0.05", "--max-tokens-limit", LONG)
    try:
        body = {"prompt": "the ", "max_tokens": 3000, "seed": 9}
        every, every_events = sse_events(server.url, body)
        start = time.perf_counter()
        joined, joined_events = sse_events(s.url, body)
        took = time.perf_counter() - start

        def text(events):
            return "".join(c["text"] for e in events if e.startswith("data: {") for c in json.loads(e[6:])["choices"])

        assert text(joined_events) == text(every_events) and len(text(every_events)) == 3000
        data = [e for e in joined_events if e.startswith("data: {")]
        assert len(data) <= took / 0.05 + 2 < len([e for e in every_events if e.startswith("data: {")])
        assert joined_events[-2:] == ["data: [DONE]", ""]
    finally:
        assert s.stop() == 0


def _engine_pid(server_pid: int) -> int:
    """The server's engine process (serve/engine.py): its child started by multiprocessing's spawn."""
    kids = [int(p) for p in open(f"/proc/{server_pid}/task/{server_pid}/children").read().split()]
    engines = [p for p in kids if "spawn_main" in open(f"/proc/{p}/cmdline").read()]
    assert len(engines) == 1, kids
    return engines[0]


def test_the_engine_runs_in_its_own_process_without_tensorflow_and_ends_with_the_server(trained_run):
    s = ServerProcess(trained_run, "--shutdown-grace", "1", "--max-tokens-limit", LONG)
    _, r = long_stream(s.url)
    engine = _engine_pid(s.proc.pid)
    with open(f"/proc/{engine}/maps") as f:
        maps = f.read()
    assert "tensorflow" not in maps and "openblas" in maps.lower()  # it steps the NumPy network
    s.proc.terminate()
    assert r.read().decode().endswith("data: [DONE]\n\n")
    assert s.stop() == 0, "".join(s.log)
    assert not os.path.exists(f"/proc/{engine}") or "zombie" in open(f"/proc/{engine}/status").read().lower()


def test_an_engine_that_dies_ends_every_open_stream_with_an_error_and_health_says_so(trained_run):
    s = ServerProcess(trained_run, "--max-tokens-limit", LONG)
    try:
        _, r = long_stream(s.url)
        os.kill(_engine_pid(s.proc.pid), signal.SIGKILL)
        rest = r.read().decode()  # the stream ends: an error object, then [DONE] (nothing hangs)
        # the first event's line was read: what is left of it is its blank line
        events = [json.loads(e[6:]) for e in rest.lstrip("\n").split("\n\n") if e.startswith("data: {")]
        assert events and events[-1]["error"]["type"] == "server_error", rest[-500:]
        assert rest.endswith("data: [DONE]\n\n")
        code, _, data = request(s.url, "GET", "/health")
        assert code == 503 and json.loads(data)["status"] == "engine stopped"
        code, _, data = request(s.url, "POST", "/v1/completions", {"prompt": "the", "max_tokens": 5})
        assert code == 503 and json.loads(data)["error"]["code"] == "engine_dead"
    finally:
        s.stop()


def test_a_plain_request_whose_client_left_does_not_hold_the_shutdown(trained_run):
    """Its handler stops waiting when the client goes (a cancelled row sends no last piece): the server
    then stops at once, not after uvicorn's backstop of --shutdown-grace + 5 s for open connections."""
    s = ServerProcess(trained_run, "--shutdown-grace", "30", "--max-tokens-limit", LONG)
    u = urlsplit(s.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("POST", "/v1/completions", json.dumps({"prompt": "the", "max_tokens": LONG}), {})
    for _ in range(200):
        if running(s.url) == 1:
            break
        time.sleep(0.05)
    conn.close()
    wait_idle(s.url)
    start = time.perf_counter()
    assert s.stop(timeout=60) == 0, "".join(s.log)
    assert time.perf_counter() - start < 20  # the old handler held the connection for the whole 35 s
