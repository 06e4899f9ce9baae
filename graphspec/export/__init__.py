"""Export a spec's module to torch.export (.pt2), TorchScript or ONNX, checked against eager.

Imports compiler (and reads the files training writes); nothing but cli imports it.
`exporter.export(Request(...))` is the whole job; formats.py holds one class per format.
"""
