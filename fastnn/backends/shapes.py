"""Shape checks at the engine boundary: one function per engine method, shared by every engine.

The base class and every override call the same check first, so a mismatched shape gets the
same error on every engine, naming the method, the argument, and the expected and actual
shapes, instead of a silent broadcast (Y of shape (m,) against Z of shape (m, 1) is (m, m))
or a raw error from a library below.

Each check runs in every training step, so its passing path is one expression of attribute
reads and tuple comparisons (no call of our own; an out buffer of None has no shape and
passes); only when it fails does :func:`_explain` work out which argument is wrong and say so.
"""

import numpy as np


def _shape(x):
    """The shape of an array, or of anything NumPy reads as one (a list of labels)."""
    shape = getattr(x, "shape", None)
    return np.shape(x) if shape is None else shape


def _explain(method, *expectations):
    """Raise a ValueError for the first (name, x, expected) whose x does not have that shape.

    `expected` is a shape tuple, or a (test, description) pair for looser rules; an x of
    None (an out buffer not given) is skipped.
    """
    for name, x, expected in expectations:
        if x is None:
            continue
        shape = _shape(x)
        rule = expected if expected and callable(expected[0]) else (lambda s: s != expected, expected)
        if rule[0](shape):
            raise ValueError(f"{method}: {name} has shape {shape}, expected {rule[1]}")
    raise AssertionError(f"{method}: a shape check failed but no argument explains it")  # pragma: no cover


def _matrix(method, name, x, description):
    """Return x's shape, raising unless it has two axes (for the explanations below)."""
    shape = _shape(x)
    if len(shape) != 2:
        raise ValueError(f"{method}: {name} has shape {shape}, expected {description}")
    return shape


def _bias(units, of):
    """A rule for _explain: one bias per unit, as (n, 1) or (n,)."""
    return lambda shape: shape not in ((units, 1), (units,)), f"{(units, 1)}: one bias per {of}"


def matmul(a, b, out):
    """a (m, k) @ b (k, n) into out (m, n)."""
    sa, sb = a.shape, b.shape
    if len(sa) != 2 or len(sb) != 2 or sa[1] != sb[0] or (out is not None and out.shape != (sa[0], sb[1])):
        sa, sb = _matrix("matmul", "a", a, "(m, k)"), _matrix("matmul", "b", b, "(k, n)")
        _explain("matmul", ("b", b, (lambda s: s[0] != sa[1], f"({sa[1]}, n): as many rows as a {sa} has columns")),
                 ("out", out, (sa[0], sb[1])))


def dense_forward(A_prev, W, b, out):
    """A_prev (m, n_prev), W (n, n_prev), b (n, 1) or (n,); out a pair (Z, A) of (m, n)."""
    sa, sw = A_prev.shape, W.shape
    if (len(sa) != 2 or len(sw) != 2 or sw[1] != sa[1] or getattr(b, "shape", None) not in ((sw[0], 1), (sw[0],))
            or (out is not None and (getattr(out[0], "shape", None) not in (None, (sa[0], sw[0]))
                                     or getattr(out[1], "shape", None) not in (None, (sa[0], sw[0]))))):
        sa = _matrix("dense_forward", "A_prev", A_prev, "(m examples, n_prev units)")
        sw = _matrix("dense_forward", "W", W, "(n units, n_prev units)")
        rows, units = sa[0], sw[0]
        _explain("dense_forward", ("W", W, (lambda s: s[1] != sa[1], f"(n, {sa[1]}): one column per column of A_prev {sa}")),
                 ("b", b, _bias(units, f"row of W {sw}")),
                 ("out[0] (Z)", out and out[0], (rows, units)), ("out[1] (A)", out and out[1], (rows, units)))


def bias_activation(Z, b, out):
    """Z (m, n), b (n, 1) or (n,), out (m, n)."""
    shape = Z.shape
    if len(shape) != 2 or getattr(b, "shape", None) not in ((shape[1], 1), (shape[1],)) \
            or (out is not None and out.shape != shape):
        shape = _matrix("bias_activation", "Z", Z, "(m examples, n units)")
        _explain("bias_activation", ("b", b, _bias(shape[1], f"column of Z {shape}")), ("out", out, shape))


def activation(Z, out):
    """out has Z's shape."""
    if out is not None and out.shape != Z.shape:
        _explain("activation", ("out", out, Z.shape))


def backprop_activation(dA, A, out):
    """dA and out have A's shape."""
    shape = A.shape
    if getattr(dA, "shape", None) != shape or (out is not None and out.shape != shape):
        _explain("backprop_activation", ("dA", dA, shape), ("out", out, shape))


def backprop_sigmoid_cross_entropy(A, Y, out, method="backprop_sigmoid_cross_entropy"):
    """Y and out have A's shape (also for the softmax output's gradient, the same A - Y)."""
    shape = A.shape
    if getattr(Y, "shape", None) != shape or (out is not None and out.shape != shape):
        _explain(method, ("Y", Y, shape), ("out", out, shape))


def cross_entropy_cost(Z, Y, out):
    """Y has Z's shape; out is a 0-d array."""
    if getattr(Y, "shape", None) != Z.shape or (out is not None and out.shape != ()):
        _explain("cross_entropy_cost", ("Y", Y, Z.shape), ("out", out, ()))


def backprop_dense(dZ, A_prev, W, need_dA_prev, out):
    """dZ (m, n), A_prev (m, n_prev), W (n, n_prev); out (dW, db, dA_prev) of W's, (n, 1), A_prev's shape."""
    sz, sa = dZ.shape, A_prev.shape
    if (len(sz) != 2 or len(sa) != 2 or sa[0] != sz[0] or W.shape != (sz[1], sa[1])
            or (out is not None and (getattr(out[0], "shape", None) not in (None, W.shape)
                                     or getattr(out[1], "shape", None) not in (None, (sz[1], 1))
                                     or (need_dA_prev and getattr(out[2], "shape", None) not in (None, sa))))):
        sz = _matrix("backprop_dense", "dZ", dZ, "(m examples, n units)")
        sa = _matrix("backprop_dense", "A_prev", A_prev, "(m examples, n_prev units)")
        units, n_prev = sz[1], sa[1]
        dW, db, dA_prev = out if out is not None else (None, None, None)
        _explain("backprop_dense", ("A_prev", A_prev, (sz[0], n_prev)), ("W", W, (units, n_prev)),
                 ("out[0] (dW)", dW, (units, n_prev)), ("out[1] (db)", db, (units, 1)),
                 ("out[2] (dA_prev)", dA_prev if need_dA_prev else None, sa))


def sgd_update(params, grads):
    """As many gradients as parameters, each of its parameter's shape."""
    if len(params) != len(grads):
        raise ValueError(f"sgd_update: got {len(grads)} gradients for {len(params)} parameters, expected one each")
    for i, (param, grad) in enumerate(zip(params, grads)):
        if getattr(grad, "shape", None) != param.shape:
            _explain("sgd_update", (f"grads[{i}]", grad, param.shape))


def take_rows(X, rows, out):
    """rows is 1-d; out is (len(rows),) + X.shape[1:]."""
    shape = _shape(rows)
    if len(shape) != 1 or (out is not None and out.shape != shape + X.shape[1:]):
        _explain("take_rows", ("rows", rows, (lambda s: len(s) != 1, "(k,): a 1-d array of example indices")),
                 ("out", out, shape[:1] + X.shape[1:]))


def vector_pair(method, first, second, names):
    """Two 1-d arrays of one shape (w and x of the dot demo; values and weights)."""
    shape = first.shape
    if len(shape) != 1 or getattr(second, "shape", None) != shape:
        _explain(method, (names[0], first, (lambda s: len(s) != 1, "(n,): a 1-d array")), (names[1], second, shape))


def copy(x, out):
    """out has x's shape."""
    if out is not None and out.shape != x.shape:
        _explain("copy", ("out", out, x.shape))
