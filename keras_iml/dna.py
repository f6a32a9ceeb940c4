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

import itertools

import numpy as np

__all__ = [
    "one_hot",
    "check_alphabet",
    "decode",
    "reverse_complement",
    "shuffle",
    "dinuc_shuffle",
    "random_sequences",
    "sequence_label",
    "N_POLICIES",
]

N_POLICIES = ("uniform", "zeros", "error")


def _rng(seed_or_rng):
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def sequence_label(index, names=None):
    """How error messages name sequence ``index``: ``"sequence 'chr1:100-300' (index 1)"``
    when ``names`` are known, else ``"sequence 1"``."""
    index = int(index)
    if names is None:
        return f"sequence {index}"
    return f"sequence {names[index]!r} (index {index})"


def check_alphabet(alphabet):
    """Checks a one-hot column order: a string of 4 distinct ASCII letters other than N.

    Raises:
        TypeError: ``alphabet`` is not a string.
        ValueError: it is not 4 distinct ASCII letters (case-insensitive), or holds N.
    """
    if not isinstance(alphabet, str):
        raise TypeError(
            f"`alphabet` must be a string of 4 letters such as 'ACGT'. "
            f"Received: alphabet={alphabet!r} of type {type(alphabet).__name__}"
        )
    upper = alphabet.upper()
    if (len(alphabet) != 4 or len(set(upper)) != 4 or "N" in upper
            or not all(c.isascii() and c.isalpha() and len(c.upper()) == 1 for c in alphabet)):
        raise ValueError(
            "`alphabet` must have 4 distinct ASCII letters other than N. "
            f"Received: alphabet={alphabet!r}"
        )
    return alphabet


def one_hot(sequences, alphabet="ACGT", n_policy="uniform", names=None):
    """Encodes DNA strings as a one-hot array.

    Args:
        sequences: a string or a list of strings, all of the same length.
        alphabet: the 4 letters in column order.
        n_policy: how ``N`` is encoded: ``"uniform"`` (0.25 each, default),
            ``"zeros"`` or ``"error"``.
        names: optional name of each sequence (FASTA record, BED interval), used in
            error messages: ``"sequence 'peak_7' (index 6)"`` instead of ``"sequence 6"``.

    Returns:
        float32 array of shape ``(N, L, 4)``.

    Example:
        >>> one_hot(["ACGN"])[0, 3]
        array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """
    if isinstance(sequences, str):
        sequences = [sequences]
    try:
        sequences = list(sequences)
    except TypeError:
        raise TypeError(
            "`x` must be a DNA string or a list of strings. "
            f"Received: x of type {type(sequences).__name__}"
        ) from None
    check_alphabet(alphabet)
    if n_policy not in N_POLICIES:
        raise ValueError(
            f"`n_policy` must be one of {N_POLICIES}. Received: n_policy={n_policy!r}"
        )
    if not sequences:
        raise ValueError("`x` must contain at least one sequence. Received: x=[]")
    if names is not None and len(names) != len(sequences):
        raise ValueError(
            f"`names` must hold one name per sequence ({len(sequences)}). "
            f"Received: len(names)={len(names)}"
        )
    for i, s in enumerate(sequences):
        if not isinstance(s, str):
            raise TypeError(
                f"`x` must be a list of strings. Received: x[{i}] of type {type(s).__name__} "
                f"({sequence_label(i, names)})"
            )
    lengths = [len(s) for s in sequences]
    if not any(lengths):
        raise ValueError(
            f"`x` holds only empty sequences (length 0). Received: x[0]={sequences[0]!r}"
        )
    if len(set(lengths)) != 1:
        first = {}
        for i, size in enumerate(lengths):
            first.setdefault(size, i)
        examples = ", ".join(f"{sequence_label(i, names)} has length {size}"
                             for size, i in sorted(first.items())[:3])
        raise ValueError(
            "All sequences in `x` must have the same length. "
            f"Received lengths: {sorted(first)[:5]} ({examples})"
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
            f"{sequence_label(n, names)}, position {i}. Received: x[{n}]={sequences[n][:60]!r}"
        )
    if n_policy == "error" and (codes == -1).any():
        n, i = np.argwhere(codes == -1)[0]
        raise ValueError(
            f"`x` contains N at {sequence_label(n, names)}, position {i} and n_policy='error'."
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


def _last_exit_trees(counts, last):
    """Every choice of last exits that forms a tree towards ``last``, with its weight.

    Args:
        counts: ``(4, 4)`` dinucleotide counts (``counts[u, v]`` edges ``u -> v``).
        last: the sequence's final letter.

    Returns:
        ``(targets (T, 4), weights (T,))``: the letter each letter's last exit goes
        to (-1 for ``last`` and absent letters) and the number of edge-level trees
        with those targets (the product of the chosen edges' multiplicities).
    """
    letters = [u for u in range(4) if u != last and counts[u].sum() > 0]
    if not letters:
        return np.full((1, 4), -1), np.ones(1)
    combos = np.array(list(itertools.product(range(4), repeat=len(letters))))
    targets = np.full((len(combos), 4), -1)
    targets[:, letters] = combos
    weights = np.prod(counts[letters, combos], axis=1).astype(float)
    follow = targets.copy()
    follow[:, last] = last
    node, rows = np.broadcast_to(np.array(letters), combos.shape), np.arange(len(combos))[:, None]
    for _ in letters:  # a tree: every letter reaches `last` within |letters| steps
        node = follow[rows, node]
    keep = (weights > 0) & np.all(node == last, axis=1)
    return targets[keep], weights[keep]


def _exit_keys(src, dst, last, rng, reps):
    """Sort keys of one sequence's edges for ``reps`` shuffles (one row per shuffle).

    Sorting the edges by ``2 * src + key`` lists every letter's exits in the order
    the walk takes them: uniformly random, except that the last one follows the
    drawn last-exit tree.
    """
    counts = np.zeros((4, 4), np.int64)
    np.add.at(counts, (src, dst), 1)
    targets, weights = _last_exit_trees(counts, last)
    pick = rng.choice(len(weights), size=reps, p=weights / weights.sum())
    keys = rng.random((reps, src.shape[0]))
    # Which u -> v edge is held back to go last does not matter (only letters are
    # written): take the first one, so the others stay in uniformly random order.
    first = np.full(16, -1)
    pairs = (src * 4 + dst)[::-1]
    found, where = np.unique(pairs, return_index=True)
    first[found] = src.shape[0] - 1 - where
    chosen = targets[pick]
    held = np.where(chosen >= 0, first[np.arange(4) * 4 + np.maximum(chosen, 0)], -1)
    rows, letters = np.nonzero(held >= 0)
    keys[rows, held[rows, letters]] += 1.0
    return keys + 2.0 * src


def _walk(codes, keys):
    """Eulerian walks: ``codes (B, L)``, ``keys (B, R, L - 1)`` -> ``(B, R, L)``."""
    b, reps, m = keys.shape
    p = b * reps
    src = codes[:, :-1]
    order = np.argsort(keys, axis=-1)
    exits = np.take_along_axis(np.broadcast_to(codes[:, None, 1:], keys.shape), order, -1)
    exits = exits.reshape(-1).astype(np.intp)
    # pointer of each (walk, letter) into `exits`: start of the letter's sorted block
    start = np.zeros((b, 4), np.intp)
    start[:, 1:] = np.cumsum([(src == a).sum(axis=1) for a in range(3)], axis=0).T
    pos = (np.repeat(start, reps, axis=0) + (np.arange(p) * m)[:, None]).reshape(-1)
    cur = np.repeat(codes[:, 0], reps).astype(np.intp)
    base = np.arange(p, dtype=np.intp) * 4
    slot, idx = np.empty(p, np.intp), np.empty(p, np.intp)
    out = np.empty((m + 1, p), np.intp)
    out[0] = cur
    for i in range(1, m + 1):  # vectorised over all walks; one step per position
        np.add(base, cur, out=slot)
        np.take(pos, slot, out=idx)
        np.take(exits, idx, out=cur)
        idx += 1
        pos[slot] = idx
        out[i] = cur
    return out.T.reshape(b, reps, m + 1)


def dinuc_shuffle(x, rng=None, n_shuffles=None):
    """Dinucleotide-preserving shuffle of one-hot sequences.

    Every output keeps the exact dinucleotide counts (and first/last base) of its
    input, drawn uniformly among such sequences (Altschul & Erickson 1985): a
    random last-exit tree towards the final base (drawn exactly, by enumerating the
    at most 16 trees of a 4-letter alphabet weighted by their edge
    multiplicities), the other exits of every base in random order, then the
    Eulerian walk through them. The walks of all sequences and shuffles advance
    together, one vectorised step per position. Columns that are not a single
    base (``N``) are read as their argmax letter, so shuffles of sequences with
    ``N`` contain only A, C, G and T.

    Args:
        x: one-hot array ``(L, 4)`` or ``(N, L, 4)``.
        rng: a ``numpy.random.Generator`` or a seed (sequences draw from it in
            turn), or a list of one Generator per sequence (sequence ``i`` draws
            only from ``rng[i]``, so its shuffles do not depend on the batch).
        n_shuffles: if given, returns ``n_shuffles`` shuffles of each sequence with a
            new leading axis: ``(n_shuffles, L, 4)`` for one sequence,
            ``(N, n_shuffles, L, 4)`` for a batch.

    Returns:
        float32 one-hot array.

    Example:
        >>> refs = dinuc_shuffle(x, rng=0, n_shuffles=20)  # (N, 20, L, 4)
    """
    x = np.asarray(x, dtype=np.float32)
    single = x.ndim == 2
    batch = x[None] if single else x
    if batch.ndim != 3 or batch.shape[-1] != 4:
        raise ValueError(
            f"`x` must have shape (N, L, 4) or (L, 4). Received: x.shape={x.shape}"
        )
    if isinstance(rng, (list, tuple)):
        if len(rng) != batch.shape[0]:
            raise ValueError(
                f"`rng` as a list must hold one generator per sequence. Received: "
                f"{len(rng)} generators for {batch.shape[0]} sequences"
            )
        rngs = [_rng(r) for r in rng]
    else:
        rngs = [_rng(rng)] * batch.shape[0]
    reps = 1 if n_shuffles is None else int(n_shuffles)
    codes = batch.argmax(-1)
    length = codes.shape[1]
    eye = np.eye(4, dtype=np.float32)
    if length < 3:
        out = np.repeat(codes[:, None], reps, axis=1)
    else:
        out = np.empty((batch.shape[0], reps, length), np.int8)
        step = max(1, 4096 // reps)  # bounds the keys' memory
        for lo in range(0, batch.shape[0], step):
            part = codes[lo : lo + step]
            keys = np.stack([_exit_keys(c[:-1], c[1:], c[-1], r, reps)
                             for c, r in zip(part, rngs[lo : lo + step])])
            out[lo : lo + step] = _walk(part, keys)
    out = eye[out]
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
