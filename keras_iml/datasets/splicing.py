"""A ground-truth splicing benchmark: designed exons between consensus splice sites.

Each sequence is intron-like background (i.i.d., GC 0.4) with one designed exon at a
fixed place, so that an acceptor and a donor position are the same in every sequence
and one per-position target (``("donor", d)``) serves the whole set:

* the 3' end of the upstream intron: a branch point (``CTAAC`` or ``CTGAC``, the A the
  branch) 26-30 bases before the exon, a polypyrimidine tract (15 bases, 70 % T) and
  ``CAG`` or ``TAG`` (``YAG``), the exon's first base at :attr:`SplicingData.acceptor`;
* the exon (GC 0.5), ending in ``MAG`` (``CAG``/``AAG``), its last base at
  :attr:`SplicingData.donor`, optionally carrying exonic splicing-enhancer hexamers
  (SRSF1-type ``GAAGAA``) at random places away from the sites;
* the 5' end of the downstream intron: ``GTRAGT`` (``GTAAGT``/``GTGAGT``).

A share of the sequences (``decoy_fraction``) are decoys: the same design with the
invariant dinucleotides broken (``AG`` -> ``AC`` at the acceptor, ``GT`` -> ``CT`` at the
donor), which no spliceosome uses; they carry no splice-site label. Positions are
0-based indices into the sequence; SpliceAI-style models that consume ``context``
bases of flank (``flank=``) take the design inside longer windows, their output
position being the input position less half the context (:meth:`SplicingData.target`).

Example:
    >>> from keras_iml.datasets import make_splicing
    >>> data = make_splicing(n=64, length=200, seed=0)
    >>> data.x.shape, data.acceptor, data.donor
    ((64, 200, 4), 60, 139)
    >>> model.explain(data.x, "saliency", target=data.target("donor"))
"""

import dataclasses

import numpy as np
import pandas as pd

from keras_iml.datasets import background as _bg

__all__ = ["SplicingData", "make_splicing", "ELEMENTS"]

_EYE = np.eye(4, dtype=np.float32)
_CODE = {b: i for i, b in enumerate("ACGT")}
#: The elements planted, and the site each belongs to.
ELEMENTS = {"branch_point": "acceptor", "polypyrimidine": "acceptor", "acceptor_ag": "acceptor",
            "exon_end": "donor", "donor_gt": "donor", "enhancer": "exon"}
_CLASSES = ("none", "acceptor", "donor")


@dataclasses.dataclass
class SplicingData:
    """A generated splicing benchmark.

    Attributes:
        x: float32 one-hot ``(N, L, 4)``.
        spliced: bool ``(N,)``: a designed exon (True) or a decoy (False).
        acceptor: the first exon base (the same in every sequence).
        donor: the last exon base.
        elements: DataFrame, one row per planted element: ``seq, element`` (a key of
            :data:`ELEMENTS`), ``site`` (``acceptor``, ``donor`` or ``exon``),
            ``start, end`` (half-open) and ``bases``.
        context: bases of flank the explained model consumes (its output is this much
            shorter than its input; 0 for a model with an output per input position).
        params: the generator's arguments (JSON-friendly).
    """

    x: np.ndarray
    spliced: np.ndarray
    acceptor: int
    donor: int
    elements: pd.DataFrame
    context: int
    params: dict

    def __len__(self):
        return len(self.x)

    def mask(self, site):
        """bool ``(N, L)``: True on the bases of the elements of ``site`` (``"acceptor"``,
        ``"donor"`` or ``"exon"``, the enhancers).

        Raises:
            ValueError: another site.
        """
        sites = sorted(set(ELEMENTS.values()))
        if site not in sites:
            raise ValueError(f"`site` must be one of {sites}. Received: site={site!r}")
        out = np.zeros(self.x.shape[:2], dtype=bool)
        for row in self.elements[self.elements.site == site].itertuples():
            out[row.seq, row.start:row.end] = True
        return out

    def target(self, site, window=0):
        """The per-position target of ``site``'s label: ``(site, position)`` in the
        model's output coordinates, or ``(site, slice(p - window, p + window + 1))``."""
        if site not in ("acceptor", "donor"):
            raise ValueError(f"`site` must be 'acceptor' or 'donor'. Received: site={site!r}")
        position = (self.acceptor if site == "acceptor" else self.donor) - self.context // 2
        if window:
            return site, slice(position - window, position + window + 1)
        return site, position

    def labels(self):
        """int8 ``(N, L - context)``: 0 none, 1 acceptor, 2 donor, per output position
        (decoys: none everywhere), for training a small splicing model."""
        out = np.zeros((len(self), self.x.shape[1] - self.context), dtype=np.int8)
        half = self.context // 2
        out[self.spliced, self.acceptor - half] = 1
        out[self.spliced, self.donor - half] = 2
        return out


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{name}` must be an int >= {low}. Received: {name}={value!r}")
    return int(value)


def _put(codes, start, text):
    codes[start:start + len(text)] = [_CODE[b] for b in text]


def _design(codes, rng, acceptor, donor, spliced, n_enhancers):
    """Writes the splice signals into one sequence's codes; returns its element rows."""
    rows = []
    branch = acceptor - int(rng.integers(26, 31))
    bp = str(rng.choice(["CTAAC", "CTGAC"]))
    _put(codes, branch, bp)
    rows.append(("branch_point", branch, branch + 5))
    tract = "".join(rng.choice(["T", "C"], size=15, p=[0.7, 0.3]))
    _put(codes, acceptor - 18, tract)
    rows.append(("polypyrimidine", acceptor - 18, acceptor - 3))
    _put(codes, acceptor - 3, str(rng.choice(["C", "T"])) + ("AG" if spliced else "AC"))
    rows.append(("acceptor_ag", acceptor - 3, acceptor))
    _put(codes, donor - 2, str(rng.choice(["C", "A"])) + "AG")
    rows.append(("exon_end", donor - 2, donor + 1))
    _put(codes, donor + 1, ("GT" if spliced else "CT") + str(rng.choice(["A", "G"])) + "AGT")
    rows.append(("donor_gt", donor + 1, donor + 7))
    free = np.arange(acceptor + 6, donor - 2 - 6 - 6 + 1)  # away from both sites
    taken = []
    for _ in range(n_enhancers):
        options = [s for s in free if all(abs(s - t) >= 6 for t in taken)]
        if not options:
            break
        start = int(rng.choice(options))
        taken.append(start)
        _put(codes, start, "GAAGAA")
        rows.append(("enhancer", start, start + 6))
    return rows


def make_splicing(n=256, length=200, exon_length=80, *, enhancers=2, decoy_fraction=0.5,
                  flank=0, seed=0):
    """Designed exons between consensus splice sites, and decoys (see the module docstring).

    Args:
        n: number of sequences.
        length: the designed region's length; the exon sits in its middle.
        exon_length: bases of the exon (acceptor to donor, inclusive), >= 30.
        enhancers: ``GAAGAA`` hexamers planted in each exon (fewer when it is short).
        decoy_fraction: share of sequences whose splice dinucleotides are broken
            (rounded to a whole number of sequences, placed at random).
        flank: random intron-like bases added on each side (SpliceAI: 5000, for the
            10,000 bases of context it consumes; the model's output then covers the
            designed region only, and :meth:`SplicingData.target` says where).
        seed: seeds every draw.

    Returns:
        A :class:`SplicingData`.

    Raises:
        ValueError: a bad argument (named), or an exon that does not fit the region.
    """
    n = _check_int(n, "n", 1)
    length = _check_int(length, "length", 1)
    exon_length = _check_int(exon_length, "exon_length", 30)
    enhancers = _check_int(enhancers, "enhancers", 0)
    flank = _check_int(flank, "flank", 0)
    if not 0.0 <= float(decoy_fraction) <= 1.0:
        raise ValueError(f"`decoy_fraction` must be in [0, 1]. Received: decoy_fraction={decoy_fraction!r}")
    if length < exon_length + 2 * 40:
        raise ValueError(f"The exon and its sites need {exon_length + 80} bases (40 on each side). "
                         f"Received: length={length}, exon_length={exon_length}")
    rng = np.random.default_rng(seed)
    total = length + 2 * flank
    codes = _bg.iid_codes(n, total, 0.4, rng).astype(np.int64)
    acceptor = flank + (length - exon_length) // 2
    donor = acceptor + exon_length - 1
    codes[:, acceptor:donor + 1] = _bg.iid_codes(n, exon_length, 0.5, rng)
    spliced = np.zeros(n, dtype=bool)  # exactly the share asked for, at random places
    spliced[rng.permutation(n)[: n - int(round(n * float(decoy_fraction)))]] = True
    rows = []
    for i in range(n):
        for element, start, end in _design(codes[i], rng, acceptor, donor, bool(spliced[i]), enhancers):
            bases = "".join("ACGT"[c] for c in codes[i, start:end])
            rows.append((i, element, ELEMENTS[element], start, end, bases))
    table = pd.DataFrame(rows, columns=["seq", "element", "site", "start", "end", "bases"])
    params = {"n": n, "length": length, "exon_length": exon_length, "enhancers": enhancers,
              "decoy_fraction": float(decoy_fraction), "flank": flank, "seed": seed}
    return SplicingData(_EYE[codes], spliced, acceptor, donor, table, 2 * flank, params)
