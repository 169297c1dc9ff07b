"""fastnn against PyTorch, a peer library: the K-class cost and gradients equal CrossEntropyLoss's.

Not in the default suite, which must not need PyTorch (a multi-GB download on a fresh machine):
`python3 tasks.py peers` installs the peers extra and runs this folder.
"""

import numpy as np
import pytest

from fastnn import initialize_parameters, notes
from fastnn.testing import engine_or_skip, engine_params


def _softmax_problem(K, m, seed):
    rng = np.random.default_rng(seed)
    parameters = initialize_parameters([6, 5, K], "he", seed=seed)
    parameters["b2"] = rng.standard_normal((K, 1))
    X, labels = rng.standard_normal((6, m)), np.arange(m) % K
    return parameters, X, labels


@pytest.mark.parametrize("engine", engine_params())
def test_cost_and_gradients_equal_pytorch_cross_entropy(engine):
    import torch

    engine = engine_or_skip(engine)
    parameters, X, labels = _softmax_problem(K=5, m=17, seed=1)
    AL, caches = notes.forward_propagation(X, parameters, "relu", engine=engine)
    grads = notes.backward_propagation(AL, labels, caches, engine=engine)
    W = {k: torch.tensor(v, requires_grad=True) for k, v in parameters.items()}
    hidden = torch.relu(torch.tensor(X.T) @ W["W1"].T + W["b1"].T)
    loss = torch.nn.CrossEntropyLoss()(hidden @ W["W2"].T + W["b2"].T, torch.tensor(labels))
    loss.backward()
    assert notes.compute_cost(AL, labels, engine=engine) == pytest.approx(loss.item(), rel=1e-12)
    for key, tensor in W.items():
        np.testing.assert_allclose(grads["d" + key], tensor.grad.numpy(), rtol=1e-10, atol=1e-14)
