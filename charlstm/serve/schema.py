"""A `POST /v1/completions` body checked and turned into batcher jobs, or an `ApiError` naming the field.

The sampling ranges and their messages are the CLI's (`core.check_sampling`), with
the OpenAI names: `max_tokens` is the CLI's `--length` (characters here), `n` its
`--num-samples`. Fields of the OpenAI API that mean nothing here (`best_of`,
`frequency_penalty`, `presence_penalty`, `logit_bias`, `suffix`, `user`, ...) are
accepted and ignored, as vLLM does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from charlstm.serve.batcher import Job
from charlstm.serve.core import CharlstmError, Model, UsageError, check_sampling

MAX_STOPS = 4  # as the OpenAI API
MAX_LOGPROBS = 5  # alternatives per character, as the OpenAI completions API
OPENAI_NAMES = {"length": "max_tokens", "num_samples": "n", "sample_index": "n"}  # CLI name -> API field


class ApiError(Exception):
    """An error answered as the OpenAI error object with an HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None, kind=None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = kind or ("invalid_request_error" if status < 500 else "server_error")

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class Limits:
    """What one request may ask for (the server's command-line limits)."""

    max_tokens: int = 4096  # largest max_tokens accepted
    max_rows: int = 64  # largest number of choices (prompts × n) in one request: the batch width


@dataclass
class Completion:
    """A checked request: the jobs (one per choice) and how to answer."""

    primes: list[str]  # the prepared prime of each prompt (case-folded like training)
    jobs: list[Job]  # choice k = prompt k // n, sample index k % n
    stream: bool = False
    echo: bool = False
    include_usage: bool = False
    logprobs: int | None = None
    warnings: list[str] = field(default_factory=list)  # characters dropped with on_unknown="skip"


def _get(body: dict, name: str, kinds: tuple, default, want: str):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise ApiError(400, f"{name}={value!r}: must be {want}", name)
    return value


def _strings(body: dict, name: str, most: int | None) -> list[str] | None:
    """A string or a list of strings (None when absent)."""
    value = body.get(name)
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ApiError(400, f"{name}: must be a string or a non-empty list of strings", name)
    if most is not None and len(values) > most:
        raise ApiError(400, f"{name}: at most {most} strings", name)
    return values


def parse(body, model: Model, model_name: str, limits: Limits) -> Completion:
    """The request, checked; raises ApiError (400, or 404 for another model's name)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    name = body.get("model")
    if name is not None and name != model_name:
        raise ApiError(
            404, f"the model {name!r} does not exist: this server has {model_name!r}", "model", "model_not_found"
        )
    length = _get(body, "max_tokens", (int,), 16, "an integer ≥ 1 (characters)")
    if length > limits.max_tokens:
        raise ApiError(
            400, f"max_tokens={length}: at most {limits.max_tokens} on this server (--max-tokens-limit)", "max_tokens"
        )
    temperature = _get(body, "temperature", (int, float), 1.0, "a number in [0, 100]")
    top_p = _get(body, "top_p", (int, float), None, "a number in (0, 1]")
    top_k = _get(body, "top_k", (int,), None, "an integer ≥ 1, or -1 for no limit")
    top_k = None if top_k == -1 else top_k  # vLLM's and llama.cpp's "no top-k"
    n = _get(body, "n", (int,), 1, "an integer ≥ 1")
    seed = _get(body, "seed", (int,), None, "an integer 0 to 2**32 - 1")
    logprobs = _get(body, "logprobs", (int,), None, f"an integer 0 to {MAX_LOGPROBS}")
    if logprobs is not None and not 0 <= logprobs <= MAX_LOGPROBS:
        raise ApiError(400, f"logprobs={logprobs}: must be an integer 0 to {MAX_LOGPROBS}", "logprobs")
    on_unknown = body.get("on_unknown", "error")  # an extension: the CLI's --on-unknown
    if on_unknown not in ("error", "skip"):
        raise ApiError(400, f"on_unknown={on_unknown!r}: choose 'error' or 'skip'", "on_unknown")
    try:
        seed = check_sampling(model, length, seed, temperature, top_k, top_p, max(n - 1, 0))
        if n < 1:
            raise UsageError(f"num_samples={n!r}: must be an integer ≥ 1")
    except UsageError as e:
        cli_name, _, rest = str(e).partition("=")
        param = OPENAI_NAMES.get(cli_name, cli_name)
        raise ApiError(400, f"{param}={rest}", param) from None
    stops = tuple(_strings(body, "stop", MAX_STOPS) or ())
    if "" in stops:
        raise ApiError(400, "stop: an empty string would end every sample at once", "stop")
    prompts = _strings(body, "prompt", None) or [None]
    if len(prompts) * n > limits.max_rows:
        raise ApiError(400, f"{len(prompts)} prompt(s) × n={n}: at most {limits.max_rows} choices per request", "n")
    completion = Completion([], [], bool(body.get("stream")), bool(body.get("echo")), logprobs=logprobs)
    options = body.get("stream_options")
    completion.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    for prompt in prompts:
        try:
            prime = model.prepare_prime(prompt, on_unknown, completion.warnings.append)
        except CharlstmError as e:
            raise ApiError(400, str(e).replace("--on-unknown skip", '"on_unknown": "skip"'), "prompt") from None
        ids = model.vocabulary.encode(prime)
        for i in range(n):
            completion.jobs.append(
                Job(
                    ids, length, float(temperature), top_k, top_p, seed, i, stops, logprobs, choice=len(completion.jobs)
                )
            )
        completion.primes.append(prime)
    return completion
