"""charlstm: character-level LSTM language models, trained and sampled from the shell or Python.

    import charlstm
    model = charlstm.load("checkpoints/macbeth")
    print(model.generate(prime="MACBETH.", length=200, seed=1))

The package is a library first; `charlstm.cli` is a thin click layer over
`charlstm.api`. Nothing here imports TensorFlow (or the API's modules) at import
time: `charlstm.load` and friends are looked up on first use (PEP 562), and
modules that need TensorFlow import it through `charlstm.training.tf_runtime` when a
command actually trains.
"""

__version__ = "0.1.0"

# Public names served from charlstm.api on first access.
_API = ("load", "Model", "SampleOptions", "train")


def __getattr__(name: str):
    if name in _API:
        from charlstm import api

        return getattr(api, name)
    raise AttributeError(f"module 'charlstm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
