"""charlstm: character-level LSTM language models, trained and sampled from the shell.

The package is a library first; `charlstm.cli` is a thin click layer over it.
Nothing here imports TensorFlow at import time: modules that need it import it
through `charlstm.tf_runtime` when a command actually trains or evaluates.
"""

__version__ = "0.1.0"
