"""Layer 1 of full-batch gradient descent in its Gram form, for wide data (m examples << n_x features).

Every update of W^[1] is a combination of the examples: W := W - dZ^T X (dZ carrying
learning_rate / m). So the product the next forward needs follows without touching X:

    P = X W^T  becomes  X (W - dZ^T X)^T = P - G dZ,   with G = X X^T (m x m), made once,

and W itself only needs the sum S of the dZ since it was last brought up to date:
W := W - S^T X. Each step then costs an (m x m)(m x n^[1]) product instead of two
(m x n_x)(n_x x n^[1]) ones: on the course's 209 images of 12,288 values, 1/118 of the work.
The iterates are the notes' own in exact arithmetic; in floating point P drifts from X W^T
by rounding, so every REFRESH steps W is brought up to date and P computed afresh.
NumPy (BLAS) does the products; the numba engine's fused step uses this for its layer 1.
"""

import numpy as np

# Steps between two refreshes of P = X W^T from W. On the course's logistic regression (209 x
# 12,288), P is off X W^T by 1e-14 (float64) and 1e-5 (float32) of its size after 64 steps,
# about X W^T's own rounding in float32, and by 8e-14 and 8e-5 after 2,000 steps unrefreshed;
# a refresh (two products over X) costs one direct step in 64.
REFRESH = 64


def worth_it(X, batch_is_fixed):
    """True when layer 1, on the batch X of m x n_x, should take the Gram form: only for a batch
    that never changes, with at most half as many examples as features (a step then costs at
    most a quarter of the direct one, and G at most half the memory of X)."""
    m, n_x = X.shape
    return batch_is_fixed and 0 < 2 * m <= n_x


def steps_before_switching(X, W):
    """Direct steps to run before making G: once they cost what G costs (m^2 n_x / 2 for the
    symmetric product, against 2 m n^[1] n_x a step), a short fit has lost at most 2x."""
    m = X.shape[0]
    return max(1, -(-m // (4 * W.shape[0])))


class GramLayer:
    """The state of layer 1 in the Gram form: G, P = X W^T (bias excluded) and the pending sum S."""

    @classmethod
    def make(cls, X, W, dW):
        """The Gram form of layer 1, or None when G = X X^T is not finite: a NaN or inf in X, or
        values whose squares overflow, would spread to every example, where the direct form
        keeps them to their own."""
        with np.errstate(over="ignore", invalid="ignore"):  # such a G is refused here, not warned about
            G = np.matmul(X, X.T)  # BLAS syrk: NumPy spots the transposed operand
            return cls(X, W, dW, G) if np.isfinite(G).all() else None

    def __init__(self, X, W, dW, G):
        """X (m, n_x): the fixed batch; W (n^[1], n_x): updated in place by flush; dW: a scratch
        of W's shape; G: X X^T."""
        self.X, self.W, self.dW, self.G = X, W, dW, G
        self.P = np.matmul(X, W.T)
        self.S = np.zeros(self.P.shape, W.dtype)
        self.GdZ = np.empty(self.P.shape, W.dtype)
        self.pending = 0

    def forward(self, out):
        """out = X W^T, as W stands after every step so far (pending ones included)."""
        np.copyto(out, self.P)

    def update(self, dZ):
        """Take the step W := W - dZ^T X (dZ already scaled by learning_rate / m) in the Gram form."""
        np.matmul(self.G, dZ, out=self.GdZ)
        np.subtract(self.P, self.GdZ, out=self.P)
        np.add(self.S, dZ, out=self.S)
        self.pending += 1
        if self.pending == REFRESH:
            self.flush()

    def flush(self):
        """Apply the pending steps to W (W := W - S^T X) and compute P afresh from it."""
        if self.pending == 0:
            return
        np.matmul(self.S.T, self.X, out=self.dW)
        np.subtract(self.W, self.dW, out=self.W)
        self.S.fill(0)
        np.matmul(self.X, self.W.T, out=self.P)
        self.pending = 0
