"""provenance: audit where an LLM checkpoint came from and what its licenses require."""

from provenance.errors import InputError, ProvenanceError, UsageError

__version__ = "0.1.0"

__all__ = ["InputError", "ProvenanceError", "UsageError", "__version__", "open_checkpoint"]


def open_checkpoint(path):  # thin re-export that keeps `import provenance` cheap
    from provenance.checkpoint import open_checkpoint as _open

    return _open(path)
