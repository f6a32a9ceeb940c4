"""DNA encoding and sequence-valid randomisation (shuffles) for one-hot arrays.

Conventions used across keras_iml:

* One-hot arrays are channels-last, ``(N, L, 4)`` float32, columns in the order of
  the alphabet (``"ACGT"`` by default), so the reverse complement of a sequence is
  ``x[:, ::-1, ::-1]``.
* **N policy.** Strings may contain ``N`` (any case). By default an ``N`` becomes the
  uniform column ``[0.25, 0.25, 0.25, 0.25]`` (the expectation of an unknown base);
  ``n_policy="zeros"`` encodes it as all zeros and ``n_policy="error"`` refuses it.
* **Case policy.** Lower-case letters (soft-masked repeats) are encoded like
  upper-case ones.
* Every random function takes a ``numpy.random.Generator`` (or a seed): nothing in
  keras_iml draws from a global random state.
"""

import numpy as np

__all__ = [
    "one_hot",
    "decode",
    "reverse_complement",
    "shuffle",
    "dinuc_shuffle",
    "random_sequences",
    "N_POLICIES",
]

N_POLICIES = ("uniform", "zeros", "error")


def _rng(seed_or_rng):
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def one_hot(sequences, alphabet="ACGT", n_policy="uniform"):
    """Encodes DNA strings as a one-hot array.

    Args:
        sequences: a string or a list of strings, all of the same length.
        alphabet: the 4 letters in column order.
        n_policy: how ``N`` is encoded: ``"uniform"`` (0.25 each, default),
            ``"zeros"`` or ``"error"``.

    Returns:
        float32 array of shape ``(N, L, 4)``.

    Example:
        >>> one_hot(["ACGN"])[0, 3]
        array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """
    if isinstance(sequences, str):
        sequences = [sequences]
    sequences = list(sequences)
    if len(alphabet) != 4 or len(set(alphabet.upper())) != 4:
        raise ValueError(
            f"`alphabet` must have 4 distinct letters. Received: alphabet={alphabet!r}"
        )
    if n_policy not in N_POLICIES:
        raise ValueError(
            f"`n_policy` must be one of {N_POLICIES}. Received: n_policy={n_policy!r}"
        )
    if not sequences:
        raise ValueError("`x` must contain at least one sequence. Received: x=[]")
    lengths = {len(s) for s in sequences}
    if len(lengths) != 1:
        raise ValueError(
            "All sequences in `x` must have the same length. "
            f"Received lengths: {sorted(lengths)[:5]}"
        )
    for i, s in enumerate(sequences):
        if not isinstance(s, str):
            raise TypeError(
                f"`x` must be a list of strings. Received: x[{i}] of type {type(s).__name__}"
            )
    lut = np.full(256, -2, dtype=np.int8)
    for k, letter in enumerate(alphabet.upper()):
        lut[ord(letter)] = k
        lut[ord(letter.lower())] = k
    lut[ord("N")] = lut[ord("n")] = -1
    raw = np.frombuffer("".join(sequences).encode("ascii", "replace"), dtype=np.uint8)
    codes = lut[raw].reshape(len(sequences), -1)
    bad = np.argwhere(codes == -2)
    if bad.size:
        n, i = bad[0]
        raise ValueError(
            f"`x` contains a character outside {alphabet}N: {sequences[n][i]!r} at "
            f"sequence {n}, position {i}. Received: x[{n}]={sequences[n][:60]!r}"
        )
    if n_policy == "error" and (codes == -1).any():
        n, i = np.argwhere(codes == -1)[0]
        raise ValueError(
            f"`x` contains N at sequence {n}, position {i} and n_policy='error'."
        )
    out = np.zeros(codes.shape + (4,), dtype=np.float32)
    known = codes >= 0
    out[known, codes[known]] = 1.0
    if n_policy == "uniform":
        out[codes == -1] = 0.25
    return out


def decode(x, alphabet="ACGT"):
    """Decodes a one-hot array ``(N, L, 4)`` back into strings (``N`` where no base is 1)."""
    x = np.asarray(x)
    letters = np.array(list(alphabet.upper()) + ["N"])
    idx = np.where(x.max(-1) == 1.0, x.argmax(-1), 4)
    return ["".join(row) for row in letters[idx]]


def reverse_complement(x):
    """Reverse complement of a one-hot array ``(..., L, 4)`` in ACGT order."""
    return np.asarray(x)[..., ::-1, ::-1]


def shuffle(x, rng=None):
    """Shuffles the positions of each sequence independently (keeps base composition).

    Args:
        x: one-hot array ``(N, L, 4)`` or ``(L, 4)``.
        rng: a ``numpy.random.Generator`` or a seed.
    """
    rng = _rng(rng)
    x = np.asarray(x)
    if x.ndim == 2:
        return x[rng.permutation(x.shape[0])]
    order = np.argsort(rng.random(x.shape[:2]), axis=1)
    return np.take_along_axis(x, order[..., None], axis=1)


def _dinuc_shuffle_codes(codes, rng):
    """Altschul–Erickson shuffle of one integer sequence keeping dinucleotide counts.

    Draws a random Eulerian path of the sequence's dinucleotide multigraph that
    starts and ends at the original first and last letters: a random arborescence
    of "last exits" towards the final letter, the other exits permuted per letter.
    """
    n = codes.shape[0]
    if n < 3:
        return codes.copy()
    src, dst = codes[:-1], codes[1:]
    letters = np.unique(codes)
    last = codes[-1]
    # Random last-exit edge for every letter except the final one: a random walk
    # backwards from `last` (Wilson-style loop-erased construction on the reverse graph).
    in_tree = {int(last)}
    last_exit = {}
    edges_by_src = {int(a): np.flatnonzero(src == a) for a in letters}
    for start in letters:
        start = int(start)
        if start in in_tree or edges_by_src[start].size == 0:
            continue
        u = start
        path_next = {}
        while u not in in_tree:
            e = rng.choice(edges_by_src[u])
            path_next[u] = e
            u = int(dst[e])
        u = start
        while u not in in_tree:
            last_exit[u] = path_next[u]
            in_tree.add(u)
            u = int(dst[path_next[u]])
    # Per letter, the ordered list of exits: others permuted, the last exit kept last.
    exits = {}
    for a, es in edges_by_src.items():
        if a in last_exit:
            le = last_exit[a]
            others = es[es != le]
            exits[a] = list(dst[rng.permutation(others)]) + [dst[le]]
        else:
            exits[a] = list(dst[rng.permutation(es)])
    out = np.empty(n, dtype=codes.dtype)
    out[0] = codes[0]
    pos = {a: 0 for a in exits}
    cur = int(codes[0])
    for i in range(1, n):
        nxt = exits[cur][pos[cur]]
        pos[cur] += 1
        out[i] = nxt
        cur = int(nxt)
    return out


def dinuc_shuffle(x, rng=None, n_shuffles=None):
    """Dinucleotide-preserving shuffle of one-hot sequences.

    Every output keeps the exact dinucleotide counts (and first/last base) of its
    input. Columns that are not a single base (``N``) are read as their argmax
    letter, so shuffles of sequences with ``N`` contain only A, C, G and T.

    Args:
        x: one-hot array ``(L, 4)`` or ``(N, L, 4)``.
        rng: a ``numpy.random.Generator`` or a seed.
        n_shuffles: if given, returns ``n_shuffles`` shuffles of each sequence with a
            new leading axis: ``(n_shuffles, L, 4)`` for one sequence,
            ``(N, n_shuffles, L, 4)`` for a batch.

    Returns:
        float32 one-hot array.
    """
    rng = _rng(rng)
    x = np.asarray(x, dtype=np.float32)
    single = x.ndim == 2
    batch = x[None] if single else x
    if batch.ndim != 3 or batch.shape[-1] != 4:
        raise ValueError(
            f"`x` must have shape (N, L, 4) or (L, 4). Received: x.shape={x.shape}"
        )
    reps = 1 if n_shuffles is None else int(n_shuffles)
    codes = batch.argmax(-1)
    eye = np.eye(4, dtype=np.float32)
    out = np.empty((batch.shape[0], reps) + batch.shape[1:], dtype=np.float32)
    for n in range(batch.shape[0]):
        for r in range(reps):
            out[n, r] = eye[_dinuc_shuffle_codes(codes[n], rng)]
    if n_shuffles is None:
        out = out[:, 0]
    return out[0] if single else out


def random_sequences(n, length, gc=0.5, rng=None):
    """I.i.d. random one-hot sequences with a given GC content.

    Args:
        n: number of sequences.
        length: sequence length.
        gc: probability of G or C at each position, in [0, 1].
        rng: a ``numpy.random.Generator`` or a seed.
    """
    if not 0.0 <= gc <= 1.0:
        raise ValueError(f"`gc` must be in [0, 1]. Received: gc={gc}")
    rng = _rng(rng)
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    codes = rng.choice(4, size=(n, length), p=p)
    return np.eye(4, dtype=np.float32)[codes]
