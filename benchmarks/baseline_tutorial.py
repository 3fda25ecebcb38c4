"""The classic Keras character-LSTM tutorial, re-implemented faithfully in Keras 3.

This is the reference charlstm is measured against, never a mode of charlstm:
lowercased text; windows of 50 with stride 1, materialised; each window predicts
only its last character; the input is the character index scaled to [0, 1] as one
feature; one-hot labels; LSTM(300, return_sequences) → Dropout(0.2) → LSTM(300) →
Dropout(0.2) → Dense softmax; categorical cross-entropy; Adam; batch size 30.
Generation re-runs the whole 50-char window through `model.predict` per char, argmax.

Run alone it trains for --budget seconds on the first 90% of the text and prints
one JSON line: target chars/s, held-out bits/char on the last 10%, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

SEQ = 50


def prepare(text: str):
    text = text.lower()
    chars = sorted(set(text))
    char_to_int = {c: i for i, c in enumerate(chars)}
    return text, chars, char_to_int


def windows(text: str, char_to_int: dict, n_vocab: int):
    data_x, data_y = [], []
    for i in range(len(text) - SEQ):
        data_x.append([char_to_int[c] for c in text[i : i + SEQ]])
        data_y.append(char_to_int[text[i + SEQ]])
    x = np.reshape(data_x, (len(data_x), SEQ, 1)) / float(n_vocab)  # (windows, 50, 1)
    return x.astype("float32"), np.array(data_y)


def build(n_vocab: int):
    import keras

    model = keras.Sequential(
        [
            keras.Input((SEQ, 1)),
            keras.layers.LSTM(300, return_sequences=True),
            keras.layers.Dropout(0.2),
            keras.layers.LSTM(300),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(n_vocab, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def train(path: str, budget: float, seed: int = 1) -> dict:
    import keras

    keras.utils.set_random_seed(seed)
    text, chars, char_to_int = prepare(open(path, encoding="utf-8").read())
    split = int(len(text) * 0.9)
    x, y = windows(text[:split], char_to_int, len(chars))
    y_onehot = keras.utils.to_categorical(y, len(chars))
    model = build(len(chars))

    class Budget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.t0, self.batches = None, 0

        def on_train_begin(self, logs=None):
            self.t0 = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if time.monotonic() - self.t0 >= budget:
                self.model.stop_training = True

    cb = Budget()
    model.fit(x, y_onehot, epochs=10_000, batch_size=30, verbose=0, callbacks=[cb])
    seconds = time.monotonic() - cb.t0
    targets = cb.batches * 30  # one predicted character per window
    # Held-out: every position of the last 10% predicted from its 50 preceding chars.
    vx, vy = windows(text[split - SEQ :], char_to_int, len(chars))
    probs = model.predict(vx, batch_size=1024, verbose=0)
    nats = float(-np.mean(np.log(np.clip(probs[np.arange(len(vy)), vy], 1e-12, 1.0))))
    return {
        "targets": targets,
        "seconds": seconds,
        "target_chars_per_s": targets / seconds,
        "val_bits_per_char": nats / math.log(2),
        "val_nats_per_char": nats,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "params": int(model.count_params()),
    }


def generate_speed(path: str, n_chars: int = 50, seed: int = 1) -> float:
    """Chars/s of the tutorial's generation: predict() on the whole window per char, argmax."""
    import keras

    keras.utils.set_random_seed(seed)
    text, chars, char_to_int = prepare(open(path, encoding="utf-8").read())
    model = build(len(chars))
    pattern = [char_to_int[c] for c in text[:SEQ]]
    t0 = time.monotonic()
    for _ in range(n_chars):
        x = np.reshape(pattern, (1, SEQ, 1)) / float(len(chars))
        index = int(np.argmax(model.predict(x, verbose=0)))
        pattern = pattern[1:] + [index]
    return n_chars / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--budget", type=float, default=300)
    ap.add_argument("--generate", type=int, default=0, help="measure generation over N chars instead")
    args = ap.parse_args()
    if args.generate:
        print(json.dumps({"generate_chars_per_s": generate_speed(args.corpus, args.generate)}))
    else:
        print(json.dumps(train(args.corpus, args.budget)))


if __name__ == "__main__":
    main()
