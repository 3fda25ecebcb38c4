"""`charlstm inspect`: look inside a trained network.

The recording itself is `charlstm.sampler.network`'s trace (every layer's states and gates per
character, with the NumPy cell equations); detectors.py finds interpretable units and
gate saturation; gradients.py measures the vanishing gradient (the one view that needs
TensorFlow, imported lazily); report.py writes the self-contained HTML page; run.py
ties them together.
"""
