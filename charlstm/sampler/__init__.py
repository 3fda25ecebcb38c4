"""The trained network in NumPy, and everything that runs it: never TensorFlow, never Keras.

    network.py     the network's arrays read from a checkpoint; the fused step (`Stepper`); `trace`
    equations.py   the readable cell equations every fast step is tested against
    sampling.py    choosing characters: temperature, top-k, top-p, one random stream per sample
    generation.py  `charlstm generate`: the prime read, text streamed to a writer
    items.py       whole items (`generate --items N`) drawn as one batch; items scored from the start state
    evaluation.py  `charlstm eval`: a text's bits per character, state carried throughout

May import: text (vocabularies, a user's text) and the shared core. The server, the exports and
inspect build on it; training imports it for the weight names and its samples between epochs.
"""
