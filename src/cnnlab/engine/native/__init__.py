"""C kernels for the hot spots torch leaves slow on a CPU; torch operators where unavailable."""
