"""The seeds' lessons as functions that compute, return their results and write their figures.

Each lesson module has ``run(out, seed=0, **options)`` returning a result with a
``figures`` list of the files it wrote, ``describe(result)`` giving the lines the
``glassgrad lesson`` command prints, and ``OPTIONS``, the options ``run`` accepts.
"""

import os

# The lessons in teaching order: ``glassgrad lesson`` lists them so, as dashed command names.
LESSONS = ("gradient_descent", "numerical_gradient", "backprop", "xor", "convolution", "sigmoid_cnn")


def output_folder(out):
    """Create the figures folder (and its parents) and return it."""
    os.makedirs(out, exist_ok=True)
    return out
