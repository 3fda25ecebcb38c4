"""The ASGI app (Starlette): the OpenAI-compatible routes, the error objects, the page.

Routes: GET /v1/models, GET /v1/models/{id}, POST /v1/completions, GET /health, GET /
(the page). Every error is the OpenAI error object, `{"error": {"message", "type",
"param", "code"}}`; a streamed completion is Server-Sent Events framed as the OpenAI
API frames them (`data: {json}`, a blank line, `data: [DONE]` last).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from contextlib import asynccontextmanager
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from charlstm.serve.batcher import Piece
from charlstm.serve.core import Sampler
from charlstm.serve.engine import Engine
from charlstm.serve.reply import Reply, sse
from charlstm.serve.schema import ApiError, Completion, Limits, parse
from charlstm.serve.settings import Settings

PAGE_FILES = {
    "/": ("index.html", "text/html"),
    "/page.js": ("page.js", "text/javascript"),
    "/page.css": ("page.css", "text/css"),
}
# The page asks for nothing from elsewhere; the browser is told so too.
PAGE_CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class Channel:
    """A request's inbox: per choice, the pieces not yet sent, joined into one.

    Joined as they arrive, so a client that reads slower than the batch steps costs
    its text's length in memory, not an object per character.
    """

    def __init__(self):
        self.items: dict[int, Piece] = {}
        self.event = asyncio.Event()
        self.abandoned = False  # the client went away: whoever waits on `take` stops waiting

    def abandon(self) -> None:
        self.abandoned = True
        self.event.set()

    def put(self, choice: int, p: Piece) -> None:
        m = self.items.get(choice)
        if m is None:
            self.items[choice] = Piece(p.text, list(p.logprobs), p.finish_reason, p.generated, p.error)
        else:
            m.text += p.text
            m.logprobs += p.logprobs
            m.finish_reason, m.generated, m.error = p.finish_reason or m.finish_reason, p.generated, p.error or m.error
        self.event.set()

    async def take(self) -> dict[int, Piece]:
        await self.event.wait()
        self.event.clear()
        items, self.items = self.items, {}
        return items


def _error(e: ApiError) -> JSONResponse:
    headers = {"Retry-After": "1"} if e.status == 503 else None
    return JSONResponse(e.body(), status_code=e.status, headers=headers)


class Server:
    """The routes over one model and one batcher."""

    def __init__(self, model: Sampler, settings: Settings):
        self.model, self.settings = model, settings
        self.limits = Limits(settings.max_tokens_limit, settings.max_batch)
        self.created = int(model.path.stat().st_mtime)
        self.batcher: Engine | None = None  # the stepping loop, in its engine process
        self.page = {
            route: resources.files("charlstm.serve").joinpath("page", name).read_bytes()
            for route, (name, _) in PAGE_FILES.items()
        }

    @asynccontextmanager
    async def lifespan(self, app):
        loop = asyncio.get_running_loop()

        def dispatch(items):
            for job, piece in items:
                job.channel.put(job.choice, piece)

        s = self.settings
        chars = self.model.vocabulary.chars
        self.batcher = Engine(self.model.path, chars, s.max_batch, s.max_queue, dispatch, exact=s.exact)
        self.batcher.start(loop)
        try:
            yield
        finally:
            self.batcher.close(0.0)
            await asyncio.to_thread(self.batcher.join, 5.0)

    def app(self) -> Starlette:
        routes = [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{name:path}", self.one_model, methods=["GET"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/health", self.health, methods=["GET"]),
            *(Route(path, self.static, methods=["GET"]) for path in PAGE_FILES),
        ]
        middleware = []
        if self.settings.cors_origins:
            middleware.append(
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(self.settings.cors_origins),
                    allow_methods=["GET", "POST"],
                    allow_headers=["Authorization", "Content-Type"],
                )
            )
        handlers = {HTTPException: self.http_error, ApiError: lambda request, e: _error(e)}
        return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=self.lifespan)

    # --- plumbing ---------------------------------------------------------------------------

    async def http_error(self, request: Request, e: HTTPException) -> JSONResponse:
        """Starlette's own 404 / 405 as OpenAI error objects."""
        message = f"Invalid URL ({request.method} {request.url.path})" if e.status_code == 404 else e.detail
        return _error(ApiError(e.status_code, message, code="unknown_url" if e.status_code == 404 else None))

    def authorize(self, request: Request) -> None:
        key = self.settings.api_key
        if key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        # compare_digest: the time taken does not tell how much of a guess was right
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise ApiError(
                401, "Incorrect or missing API key: send the header 'Authorization: Bearer KEY'", code="invalid_api_key"
            )

    async def read_json(self, request: Request):
        limit = self.settings.max_body
        too_big = ApiError(413, f"the request body is over {limit} bytes (--max-body)", code="request_too_large")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks), parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"the request body is not valid JSON ({e})") from None

    # --- routes -----------------------------------------------------------------------------

    def model_card(self) -> dict:
        return {"id": self.settings.model_name, "object": "model", "created": self.created, "owned_by": "charlstm"}

    async def models(self, request: Request) -> JSONResponse:
        self.authorize(request)
        return JSONResponse({"object": "list", "data": [self.model_card()]})

    async def one_model(self, request: Request) -> JSONResponse:
        self.authorize(request)
        name = request.path_params["name"]
        if name != self.settings.model_name:
            raise ApiError(404, f"the model {name!r} does not exist", "model", "model_not_found")
        return JSONResponse(self.model_card())

    async def chat(self, request: Request) -> JSONResponse:
        self.authorize(request)
        raise ApiError(
            404,
            f"{self.settings.model_name!r} is a completion model, not a chat model: POST /v1/completions with a prompt",
            "model",
            "model_not_found",
        )

    async def health(self, request: Request) -> JSONResponse:
        running, waiting = self.batcher.counts()
        status = "ok" if self.batcher.alive else "engine stopped"  # 503 then: a supervisor should restart it
        body = {"status": status, "model": self.settings.model_name, "running": running, "waiting": waiting}
        return JSONResponse(body, status_code=200 if self.batcher.alive else 503)

    async def static(self, request: Request) -> Response:
        name, media = PAGE_FILES[request.url.path]
        return Response(
            self.page[request.url.path],
            media_type=media,
            headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
        )

    async def completions(self, request: Request) -> Response:
        self.authorize(request)
        body = await self.read_json(request)
        req = parse(body, self.model, self.settings.model_name, self.limits)
        channel = Channel()
        for job in req.jobs:
            job.channel = channel
        if not self.batcher.alive and not self.batcher.closing:
            raise ApiError(
                503, "the server's stepping process stopped (see its log): restart charlstm serve", code="engine_dead"
            )
        if not self.batcher.submit(req.jobs):
            raise ApiError(
                503,
                "the server is at capacity (--max-batch and --max-queue are full): retry shortly",
                code="server_overloaded",
            )
        reply = Reply(req, self.settings.model_name)
        if req.stream:
            return StreamingResponse(
                self.events(reply, channel),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        watcher = asyncio.create_task(self._cancel_on_disconnect(request, req, channel))
        try:
            while not reply.finished() and not channel.abandoned:
                for choice, piece in (await channel.take()).items():
                    reply.add(choice, piece)
        finally:
            watcher.cancel()
            self.batcher.cancel(req.jobs)
        if channel.abandoned:  # nobody to answer; the rows left the batch (they send no more pieces)
            return Response(status_code=499)
        return JSONResponse(reply.whole())

    async def events(self, reply: Reply, channel: Channel):
        """The SSE stream: one event per choice per batch of pieces that exist, then usage, then [DONE].

        With --stream-interval, after each round of events the stream waits out the rest of
        the interval while the channel joins what the batch steps meanwhile (the stepping
        never waits for a client).
        """
        interval, loop = self.settings.stream_interval, asyncio.get_running_loop()
        try:
            if reply.req.echo:
                for k in range(len(reply.req.jobs)):
                    yield sse(reply.echo_event(k))
            while not reply.finished():
                items = await channel.take()
                sent = loop.time()
                for k, piece in items.items():
                    if piece.error is not None:  # the stepping loop failed: say so and end the stream
                        yield sse(ApiError(500, piece.error).body())
                        yield "data: [DONE]\n\n"
                        return
                    yield reply.event_line(k, piece)
                if interval and not reply.finished():
                    await asyncio.sleep(interval - (loop.time() - sent))
            if reply.req.include_usage:
                yield sse(reply.usage_event())
            yield "data: [DONE]\n\n"
        finally:
            self.batcher.cancel(reply.req.jobs)  # the client went away, or we are done: the rows leave at the next step

    async def _cancel_on_disconnect(self, request: Request, req: Completion, channel: Channel) -> None:
        """A non-streamed request whose client goes away stops generating at the next step, and its handler
        stops waiting: a cancelled row sends no last piece (before, the handler waited for one until shutdown,
        which then took uvicorn's whole 15 s grace)."""
        while (await request.receive())["type"] != "http.disconnect":
            pass
        self.batcher.cancel(req.jobs)
        channel.abandon()


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")
