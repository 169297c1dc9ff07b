"""Hot loops the engines call: Numba kernels and CUDA sources, compiled lazily on first use."""
