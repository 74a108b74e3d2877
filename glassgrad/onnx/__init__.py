"""ONNX export with ``torch.onnx.export``'s signature: ``glassgrad.onnx.export(model, args, f, ...)``.

The model is run once on the example input while every op it applies is recorded
(``autograd.function.observe_ops``); each recorded op becomes ONNX nodes through the converter table
in ``glassgrad.onnx.converters``, and the graph is assembled, checked and saved with the ``onnx``
package itself (``pip install 'glassgrad[onnx]'``). Parameters and buffers become initializers named
as in ``state_dict()``. An op with no converter is a clear error naming it.
"""

from glassgrad.onnx.export import OnnxExportError, export, supported_ops

__all__ = ["export", "OnnxExportError", "supported_ops"]
