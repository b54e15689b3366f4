"""Weight-provenance statistics: canonicalisation, fingerprints, deep comparison, calibrated verdicts.

Works on mappings from canonical Hugging Face LLaMA tensor names to arrays (or lazy objects with ``.read()``) plus an
architecture dict with HF config names. Knows nothing about file formats or licenses; never imports ``provenance``.
"""

from fingerprints.fingerprint import FORMAT, VERSION, Fingerprint, compute_fingerprint, is_fingerprint_file

__all__ = [
    "FORMAT",
    "VERSION",
    "Fingerprint",
    "compare_fingerprints",
    "compute_fingerprint",
    "deep_compare",
    "is_fingerprint_file",
]


def __getattr__(name: str):
    # Imported on first use: computing a fingerprint does not need the comparison code.
    if name == "compare_fingerprints":
        from fingerprints.compare import compare_fingerprints

        return compare_fingerprints
    raise AttributeError(f"module 'fingerprints' has no attribute {name!r}")


def deep_compare(*args, **kwargs):
    from fingerprints.deep import deep_compare as _deep

    return _deep(*args, **kwargs)
