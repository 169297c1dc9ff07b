"""The notes' four activation functions: their names, codes for compiled kernels, and checks."""

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")

# g(z) = max(0.01 z, z): the notes' leaky ReLU slope.
LEAKY_RELU_SLOPE = 0.01


def activation_code(name):
    """Return the small integer a compiled kernel uses for activation `name` (its index)."""
    return ACTIVATIONS.index(check_activation(name))


def check_activation(name, argument="activation"):
    """Return `name` if it is one of ACTIVATIONS, else raise a ValueError that lists them."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"{argument}: expected one of {', '.join(repr(a) for a in ACTIVATIONS)}, got {name!r}"
        )
    return name
