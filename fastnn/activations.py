"""The notes' four activation functions: their names, codes for compiled kernels, and checks.

The output layer's activation is chosen by its number of units K: the notes' sigmoid
unit when K = 1, softmax over the K classes when K > 1.
"""

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
# Softmax is an output activation only: it normalises a whole row, not one unit.
SOFTMAX = "softmax"

# g(z) = max(0.01 z, z): the notes' leaky ReLU slope.
LEAKY_RELU_SLOPE = 0.01


# The small integer a compiled kernel uses for each activation (its index), for names checked already.
ACTIVATION_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}


def activation_code(name):
    """Return the small integer a compiled kernel uses for activation `name`, after checking the name."""
    return ACTIVATION_CODES[check_activation(name)]


def check_activation(name, argument="activation"):
    """Return `name` if it is one of ACTIVATIONS, else raise a ValueError that lists them."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"{argument}: expected one of {', '.join(repr(a) for a in ACTIVATIONS)}, got {name!r}"
        )
    return name


def output_activation(n_outputs):
    """The output layer's activation for K = `n_outputs` units: sigmoid if K = 1, else softmax."""
    return "sigmoid" if n_outputs == 1 else SOFTMAX


def check_output_activation(name, argument="activation"):
    """Return `name` if it is a hidden activation or softmax, else raise naming them all."""
    if name != SOFTMAX:
        check_activation(name, argument)
    return name


def layer_activations(activation, n_hidden, argument="activation", n_outputs=1):
    """[None, g^[1], ..., g^[L-1], g^[L]]: one name per layer from one name or a list.

    Index 0 (the input) is None; the output layer is output_activation(n_outputs).
    """
    if isinstance(activation, str):
        hidden = [activation] * n_hidden
    elif isinstance(activation, (list, tuple)):
        hidden = list(activation)
    else:
        raise ValueError(f"{argument}: expected a name or a list of {n_hidden} names, got {activation!r}")
    if len(hidden) != n_hidden:
        raise ValueError(
            f"{argument}: expected one name or a list of {n_hidden} (one per hidden layer), got {activation!r}"
        )
    for name in hidden:
        check_activation(name, argument)
    return [None] + hidden + [output_activation(n_outputs)]
