"""Rendering: graphviz diagrams of the typed graph."""
