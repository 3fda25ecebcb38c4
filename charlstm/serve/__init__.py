"""`charlstm serve`: an OpenAI-compatible completions server with continuous batching, and a page to play with.

core (the library names used) <- batcher (the stepping loop) <- schema (a request checked)
<- app (Starlette routes, SSE, errors) <- run (uvicorn, signals). Nothing here imports
TensorFlow; Starlette and uvicorn come with the `serve` extra: pip install 'charlstm[serve]'.
"""
