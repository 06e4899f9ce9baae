"""Using a trained run folder: `graphspec predict`, `evaluate` and `sample`.

A package above the run folder: it reads what a run wrote (spec.yaml, meta.json, weights.pt or
checkpoints/best.pt, preprocess.json) and prepares new data from that stored state alone, never
by recomputing it from the training data. It imports torch.
"""
