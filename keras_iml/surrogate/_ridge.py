"""Ridge regression from streamed sufficient statistics (flat memory in the number of rows).

Why not an incremental scikit-learn estimator: ``SGDRegressor.partial_fit`` only
approximates the least-squares solution (its answer depends on the learning-rate
schedule and the chunk order), and ``Ridge`` needs every row in memory, which for
an additive surrogate of 200-bp sequences and 50,000 queries is 50,000 x 800
float64 (320 MB) while the statistics below take 800 x 800 (5 MB) whatever the
number of queries. Ridge's solution depends on the data only through the centred
Gram matrix ``Xc'Xc``, ``Xc'yc`` and the means, so merging those chunk by chunk
(the pairwise update of Chan, Golub & LeVeque, 1979, for numerical stability) and
solving ``(Xc'Xc + alpha I) w = Xc'yc`` gives scikit-learn's ``Ridge(alpha,
fit_intercept=True)`` coefficients exactly (checked in tests/test_surrogate.py);
the solve itself is ``scipy.linalg.solve`` (a Cholesky factorisation), not an
optimiser.
"""

import numpy as np
import scipy.linalg

__all__ = ["RidgeStatistics"]


class RidgeStatistics:
    """Means and centred cross-products of ``(X, y)``, merged chunk by chunk.

    Args:
        n_features: number of columns of ``X``.
    """

    def __init__(self, n_features):
        self.n = 0
        self.mean_x = np.zeros(n_features)
        self.mean_y = 0.0
        self.sxx = np.zeros((n_features, n_features))
        self.sxy = np.zeros(n_features)
        self.syy = 0.0

    def update(self, X, y, exact_float32=False):
        """Adds rows ``X (m, d)`` with targets ``y (m,)``.

        Args:
            X: features.
            y: targets.
            exact_float32: the features' products and their sums over a chunk are
                exact in float32 (one-hot columns: multiples of 1/16 summed over fewer
                than 2**20 rows), so the Gram matrix is computed in float32 (twice
                as fast) and centred in float64.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        m = len(X)
        if m == 0:
            return
        mx, my = X.mean(0), float(y.mean())
        yc = y - my
        if exact_float32 and m <= 2**20:
            x32 = X.astype(np.float32)
            cxx = (x32.T @ x32).astype(np.float64) - m * np.outer(mx, mx)
            cxy = X.T @ yc
        else:
            xc = X - mx
            cxx, cxy = xc.T @ xc, xc.T @ yc
        cyy = float(yc @ yc)
        if self.n == 0:
            self.mean_x, self.mean_y = mx, my
            self.sxx, self.sxy, self.syy = cxx, cxy, cyy
            self.n = m
            return
        n = self.n + m
        dx, dy = mx - self.mean_x, my - self.mean_y
        f = self.n * m / n
        self.sxx += cxx + f * np.outer(dx, dx)
        self.sxy += cxy + f * dx * dy
        self.syy += cyy + f * dy * dy
        self.mean_x = self.mean_x + dx * (m / n)
        self.mean_y += dy * (m / n)
        self.n = n

    def penalty(self, alpha):
        """The absolute ridge penalty for a relative ``alpha``: ``alpha * trace(Xc'Xc) / d``.

        The penalty is a fraction of the features' summed squared deviations per
        feature (``n`` times their mean variance), so one ``alpha`` regularises alike
        whatever the number of rows and the scale of the features.
        """
        return float(alpha) * float(np.trace(self.sxx)) / max(1, len(self.sxy))

    def solve(self, alpha):
        """``(coef (d,), intercept)`` of the ridge regression with absolute penalty ``alpha``."""
        if self.n == 0:
            raise ValueError("No data to fit: the surrogate was given no rows. Received: n=0")
        d = len(self.sxy)
        if alpha > 0:
            coef = scipy.linalg.solve(self.sxx + alpha * np.eye(d), self.sxy, assume_a="pos")
        else:  # minimum-norm least squares
            coef = scipy.linalg.lstsq(self.sxx, self.sxy)[0]
        return coef, float(self.mean_y - self.mean_x @ coef)
