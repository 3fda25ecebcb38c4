"""A `POST /v1/completions` body checked and turned into batcher jobs, or an `ApiError` naming the field.

Each prompt becomes the library's own request (`Sampler.request`: the `SampleOptions`
and the prime's ids, the prime read as `charlstm generate` reads it), and each choice a
job carrying that request's sample. The sampling ranges and their messages are the
CLI's (`SampleOptions.create`), with the OpenAI names: `max_tokens` is the CLI's `--length` (characters here), `n` its
`--num-samples`. Fields of the OpenAI API that mean nothing here (`best_of`,
`frequency_penalty`, `presence_penalty`, `logit_bias`, `suffix`, `user`, ...) are
accepted and ignored, as vLLM does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from charlstm.serve.batcher import Job
from charlstm.serve.core import CharlstmError, SampleOptions, Sampler, UsageError

MAX_STOPS = 4  # as the OpenAI API
MAX_LOGPROBS = 5  # alternatives per character, as the OpenAI completions API
# The request fields `SampleOptions` checks: API name -> its field (the prompt is checked per prompt)
API_NAMES = {
    "max_tokens": "length",
    "temperature": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "seed": "seed",
    "n": "num_samples",
    "on_unknown": "on_unknown",
}
OPENAI_NAMES = {field: api for api, field in API_NAMES.items()}
DEFAULT_MAX_TOKENS = 16  # the OpenAI API's default


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

    primes: list[str]  # the prime of each prompt as fed (case-folded like training): its request's prime_text
    jobs: list[Job]  # choice k = prompt k // n, sample index k % n
    stream: bool = False
    echo: bool = False
    include_usage: bool = False
    logprobs: int | None = None
    warnings: list[str] = field(default_factory=list)  # characters dropped with on_unknown="skip"


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


def parse(body, model: Sampler, model_name: str, limits: Limits) -> Completion:
    """The request, checked; raises ApiError (400, or 404 for another model's name)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    name = body.get("model")
    if name is not None and name != model_name:
        raise ApiError(
            404, f"the model {name!r} does not exist: this server has {model_name!r}", "model", "model_not_found"
        )
    opts = _options(body)
    if opts.length > limits.max_tokens:
        raise ApiError(
            400, f"max_tokens={opts.length}: at most {limits.max_tokens} here (--max-tokens-limit)", "max_tokens"
        )
    logprobs = body.get("logprobs")
    if logprobs is not None and (type(logprobs) is not int or not 0 <= logprobs <= MAX_LOGPROBS):
        raise ApiError(400, f"logprobs={logprobs!r}: must be an integer 0 to {MAX_LOGPROBS}", "logprobs")
    stops = tuple(_strings(body, "stop", MAX_STOPS) or ())
    if "" in stops:
        raise ApiError(400, "stop: an empty string would end every sample at once", "stop")
    prompts = _strings(body, "prompt", None) or [None]
    n = opts.num_samples
    if len(prompts) * n > limits.max_rows:
        raise ApiError(400, f"{len(prompts)} prompt(s) × n={n}: at most {limits.max_rows} choices per request", "n")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    completion = Completion([], [], bool(body.get("stream")), bool(body.get("echo")), include_usage, logprobs)
    for prompt in prompts:
        try:
            request = model.request(dataclasses.replace(opts, prime=prompt), completion.warnings.append, stops)
        except CharlstmError as e:
            message = str(e).replace("--on-unknown skip", '"on_unknown": "skip"')
            raise ApiError(400, message, "prompt") from None
        for i in range(n):
            completion.jobs.append(Job(request.sample(i), logprobs, choice=len(completion.jobs)))
        completion.primes.append(request.prime_text)
    return completion


def _options(body: dict) -> SampleOptions:
    """The sampling fields checked by `SampleOptions` (the CLI's ranges and messages), a seed drawn if none."""
    fields = {api: body.get(api) for api in API_NAMES if body.get(api) is not None}
    fields.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    if fields.get("top_k") == -1:  # vLLM's and llama.cpp's "no top-k"
        del fields["top_k"]
    try:
        opts = SampleOptions.create(**{API_NAMES[k]: v for k, v in fields.items()})
    except UsageError as e:
        param = OPENAI_NAMES.get(e.param, e.param)
        raise ApiError(400, f"{param}: {e}" if param != e.param else str(e), param) from None
    return opts.resolved()
