"""Feature maps of the surrogates: k-mer counts and motif-grammar features."""

import numpy as np
import scipy.sparse

from keras_iml.models.pwm import scan, score_threshold
from keras_iml.motifs.pfm import log_odds
from keras_iml.surrogate._sequences import codes_of, kmer_string

__all__ = ["KmerCounter", "MotifGrammar"]


class KmerCounter:
    """Position-free k-mer counts, optionally pooled over both strands.

    With ``both_strands``, a k-mer and its reverse complement share one feature
    (named by the lexicographically smaller of the two), counting occurrences on
    either strand: a palindrome counts twice.
    """

    @staticmethod
    def n_features(k, both_strands=True):
        """The number of features: ``4**k``, or with ``both_strands`` the k-mers that are
        the smaller of themselves and their reverse complement (``(4**k + 4**(k//2)) / 2``
        for even ``k``: palindromes count once)."""
        return 4**k if not both_strands else (4**k + (4 ** (k // 2) if k % 2 == 0 else 0)) // 2

    def __init__(self, k, both_strands=True):
        self.k = k
        codes = np.arange(4**k)
        digits = (codes[:, None] >> (2 * np.arange(k - 1, -1, -1))) & 3
        if both_strands:
            rc = ((3 - digits[:, ::-1]) << (2 * np.arange(k - 1, -1, -1))).sum(1)
            canon = np.minimum(codes, rc)
            keep = np.unique(canon)
            column = np.searchsorted(keep, canon)
            # a k-mer's feature counts it and its reverse complement (each occurrence is
            # one on either strand); a palindrome is its own complement, so counts twice.
            # Sparse: a dense 4**k x features map is 17 GB at k=8.
            palindromes = codes[codes == rc]
            rows = np.concatenate([codes, palindromes])
            cols = np.concatenate([column, column[palindromes]])
            self.map = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                               shape=(4**k, len(keep)))  # duplicates add up
        else:
            keep = codes
            self.map = None
        self.names = [kmer_string(c, k) for c in keep]

    def __call__(self, x):
        codes = codes_of(x).astype(np.int64)
        n, length = codes.shape
        k = self.k
        if length < k:
            raise ValueError(f"Sequences are shorter than k={k}. Received: x.shape={np.shape(x)}")
        index = np.zeros((n, length - k + 1), np.int64)
        for j in range(k):
            index = index * 4 + codes[:, j : length - k + 1 + j]
        index += (np.arange(n) * 4**k)[:, None]
        counts = np.bincount(index.ravel(), minlength=n * 4**k).reshape(n, 4**k).astype(np.float64)
        return counts if self.map is None else np.asarray(counts @ self.map)


class MotifGrammar:
    """Motif-grammar features of one-hot sequences.

    Per motif ``a`` (log-odds in nats, both strands): ``score:a`` (best match),
    ``present:a`` (best match above the score whose p-value is ``pvalue``),
    ``count:a`` (windows above it). Per pair ``a <= b``: ``pair:a&b`` (both present;
    for ``a == b`` two non-overlapping sites), ``score_product:a&b`` (product of the
    best scores clipped at 0; ``a < b`` only) and ``spacing:a&b:[lo,hi)`` (both
    present and the best sites' start-to-start distance in the bin).
    """

    def __init__(self, motifs, spacing_bins, pvalue):
        self.motifs = []
        for label, pfm in motifs:
            weights = log_odds(pfm, pseudocount=0.01, base=np.e)
            # a short motif may have no score as rare as pvalue: its best site then counts
            # (less a rounding margin: the scan sums in another order than this sum)
            threshold = min(score_threshold(weights, pvalue), float(weights.max(1).sum())) - 1e-6
            self.motifs.append((label, weights, threshold))
        self.bins = np.asarray(list(spacing_bins) + [np.inf], dtype=np.float64)
        self.names = []
        for a, _, _ in self.motifs:
            self.names += [f"score:{a}", f"present:{a}", f"count:{a}"]
        for i, (a, _, _) in enumerate(self.motifs):
            for b, _, _ in self.motifs[i:]:
                self.names.append(f"pair:{a}&{b}")
                if a != b:
                    self.names.append(f"score_product:{a}&{b}")
                self.names += [f"spacing:{a}&{b}:[{lo:g},{hi:g})" for lo, hi in zip(self.bins[:-1], self.bins[1:])]

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float32)
        hits = []
        cols = []
        for _, weights, threshold in self.motifs:
            scores = scan(x, weights, both_strands=True).max(-1)  # (n, P)
            best, pos = scores.max(1), scores.argmax(1)
            masked = np.where(np.abs(np.arange(scores.shape[1])[None] - pos[:, None]) < len(weights),
                              -np.inf, scores)
            second = masked.max(1) if np.isfinite(masked).any() else np.full(len(x), -np.inf)
            pos2 = masked.argmax(1)
            present = best >= threshold
            hits.append((best, pos, present, second >= threshold, pos2))
            cols += [best, present, (scores >= threshold).sum(1)]
        for i, (best_a, pos_a, pres_a, two_a, pos2_a) in enumerate(hits):
            for j in range(i, len(hits)):
                best_b, pos_b, pres_b, _, _ = hits[j]
                if i == j:
                    both, dist = two_a, np.abs(pos_a - pos2_a)
                else:
                    both, dist = pres_a & pres_b, np.abs(pos_a - pos_b)
                    cols.append(both)
                    cols.append(np.maximum(best_a, 0) * np.maximum(best_b, 0))
                if i == j:
                    cols.append(both)
                which = np.searchsorted(self.bins, dist, side="right") - 1
                cols += [both & (which == k) for k in range(len(self.bins) - 1)]
        return np.stack(cols, 1).astype(np.float64)
