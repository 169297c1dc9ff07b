"""Errors in units in the last place against a decimal oracle, for the accuracy tests."""

import decimal

import numpy as np


def ulp_errors(actual, exact, dtype):
    """|actual - exact| in units in the last place of `dtype` at exact (exact: Decimals, normal floats)."""
    errors = []
    eps = decimal.Decimal(float(np.finfo(dtype).eps))
    for a, e in zip(actual.tolist(), exact):
        _, exponent = np.frexp(float(e))  # e = f 2^exponent, f in [0.5, 1)
        ulp = eps * decimal.Decimal(2) ** (int(exponent) - 1)
        errors.append(float(abs(decimal.Decimal(a) - e) / ulp))
    return np.array(errors)
