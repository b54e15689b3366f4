"""Reference LLaMA-family implementation: a small readable model (model.py) and its architecture graph (graph.py).

This room imports only torch; it knows nothing about file formats or the rest of the project.
"""

from reference_impl.model import CanonicalLoadError, Llama, LlamaConfig, LoadReport, greedy

__all__ = ["CanonicalLoadError", "Llama", "LlamaConfig", "LoadReport", "greedy"]
