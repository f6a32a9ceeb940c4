"""Motif resolution and site implantation for the ``implant`` library and motif features."""

import numpy as np

from keras_iml.models.pwm import load_motifs
from keras_iml.motifs.pfm import as_pfm

__all__ = ["resolve_motifs", "implant_codes"]


def resolve_motifs(motifs, name="motifs"):
    """``[(name, pfm (W, 4) float64), ...]`` from a dict name -> matrix/JASPAR ID, or a list.

    Raises:
        ValueError: naming ``name``, for an empty or unreadable specification.
    """
    if motifs is None:
        raise ValueError(f"`{name}` must name at least one motif. Received: {name}=None")
    if isinstance(motifs, dict) and not motifs:
        raise ValueError(f"`{name}` must name at least one motif. Received: {name}={{}}")
    resolved = load_motifs(motifs, name=name)
    out = [(str(label), as_pfm(pfm, f"{name}[{label!r}]")) for label, pfm in resolved]
    labels = [label for label, _ in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"`{name}` has repeated names. Received: names={labels}")
    return out


def implant_codes(codes, motifs, rng, *, copies, orientation, positions, spacing, heterotypic):
    """Implants motif sites into base codes ``(n, L)`` in place; returns the design columns.

    See :class:`keras_iml.surrogate.libraries.Implant` for the options.
    """
    n, length = codes.shape
    cums = [np.cumsum(pfm, axis=1) for _, pfm in motifs]
    names = [label for label, _ in motifs]
    widths = [len(pfm) for _, pfm in motifs]
    columns = {"motif": np.empty(n, dtype=object), "motifs": np.empty(n, dtype=object),
               "copies": np.zeros(n, np.int64), "position": np.full(n, -1, np.int64),
               "orientation": np.empty(n, dtype=object), "spacing": np.full(n, np.nan)}
    for i in range(n):
        first = int(rng.integers(0, len(motifs)))
        c = int(copies[int(rng.integers(0, len(copies)))])
        strand = orientation[int(rng.integers(0, len(orientation)))]
        if c == 0:
            columns["motif"][i], columns["motifs"][i], columns["orientation"][i] = "none", "", "none"
            continue
        chosen = [first] + [int(rng.integers(0, len(motifs))) if rng.random() < heterotypic else first
                            for _ in range(c - 1)]
        width = max(widths[m] for m in chosen)
        step = 0
        if c > 1:
            top = (length - width) // (c - 1)
            options = np.arange(width, top + 1) if spacing is None else \
                np.array([s for s in spacing if width <= s <= top], dtype=np.int64)
            if options.size == 0:
                raise ValueError(
                    f"{c} copies of a {width}-bp motif do not fit in {length} bp without overlap "
                    f"with the allowed spacings. Received: copies={tuple(copies)}, spacing={spacing!r}"
                )
            step = int(options[int(rng.integers(0, options.size))])
        span = (c - 1) * step + width
        starts = np.arange(length - span + 1) if positions is None else \
            np.array([p for p in positions if p <= length - span], dtype=np.int64)
        if starts.size == 0:
            raise ValueError(
                f"No allowed first position leaves room for {c} copies ({span} bp) in {length} bp. "
                f"Received: positions={positions!r}"
            )
        start = int(starts[int(rng.integers(0, starts.size))])
        for j, m in enumerate(chosen):
            bases = np.minimum((rng.random((widths[m], 1)) > cums[m]).sum(1), 3).astype(np.int8)
            if strand == "-":
                bases = 3 - bases[::-1]
            codes[i, start + j * step : start + j * step + widths[m]] = bases
        columns["motif"][i] = names[first]
        columns["motifs"][i] = "+".join(names[m] for m in chosen)
        columns["copies"][i], columns["position"][i] = c, start
        columns["orientation"][i] = strand
        columns["spacing"][i] = step if c > 1 else np.nan
    return columns
