"""`charlstm serve`: an OpenAI-compatible completions server with continuous batching, and a page to play with.

core (the library names used) <- batcher (the stepping loop) <- engine (the batcher in a
process of its own) <- schema (a request checked)
<- reply (the response objects) <- app (Starlette routes, SSE, errors) <- run (uvicorn,
signals); settings (the options, defined once) is read by the CLI without the extra. Nothing here imports
TensorFlow; Starlette and uvicorn come with the `serve` extra: pip install 'charlstm[serve]'.
"""
