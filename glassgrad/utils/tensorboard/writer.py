"""``SummaryWriter``: glassgrad tensors, modules and figures as TensorBoard event records.

Everything that touches the file format (the event file writer, the ``Summary``/``Event``/``GraphDef``
protocol buffers, the text and hparams plugin records) comes from the ``tensorboard`` package; this
module converts values and keeps torch's method names, argument names and defaults.
"""

import math
import os
import socket
import time
from datetime import datetime
from io import BytesIO

import numpy as np

from glassgrad.tensor import Tensor

_INSTALL = "pip install 'glassgrad[tensorboard]' (or: pip install tensorboard)"


def _tb():
    """The tensorboard pieces used here, imported on first use so glassgrad never needs them."""
    try:
        from tensorboard.compat.proto import (
            attr_value_pb2,
            event_pb2,
            graph_pb2,
            node_def_pb2,
            summary_pb2,
            tensor_pb2,
            tensor_shape_pb2,
            versions_pb2,
        )
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.hparams import plugin_data_pb2 as hparams_pb2
        from tensorboard.plugins.text import plugin_data_pb2 as text_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as error:
        raise ModuleNotFoundError(
            f"glassgrad.utils.tensorboard writes TensorBoard files with the tensorboard package, "
            f"which is not installed ({error}); install it with: {_INSTALL}"
        ) from None
    return {
        "attr": attr_value_pb2,
        "event": event_pb2,
        "graph": graph_pb2,
        "node": node_def_pb2,
        "summary": summary_pb2,
        "tensor": tensor_pb2,
        "shape": tensor_shape_pb2,
        "versions": versions_pb2,
        "api": api_pb2,
        "hparams": hparams_pb2,
        "text": text_pb2,
        "EventFileWriter": EventFileWriter,
    }


def _numpy(value):
    """An ndarray from a glassgrad Tensor, a torch tensor, a number or a sequence."""
    if isinstance(value, Tensor):
        return value.detach().numpy()
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _scalar(value, tag):
    array = _numpy(value)
    if array.size != 1:
        raise ValueError(f"add_scalar('{tag}'): expected one number, got an array of shape {tuple(array.shape)}")
    return float(array.reshape(()))


def _hwc(image, dataformats, tag):
    """An image in ``dataformats`` (CHW, HWC, HW, ...) as an RGB HxWx3 array (gray images repeated)."""
    formats = dataformats.upper()
    if sorted(formats) not in (sorted("CHW"), sorted("HW")) or image.ndim != len(formats):
        raise ValueError(
            f"add_image('{tag}'): dataformats='{dataformats}' does not fit an array of shape "
            f"{tuple(image.shape)}; use 'CHW', 'HWC' or 'HW'"
        )
    if "C" not in formats:
        image = image[None]
        formats = "C" + formats
    image = np.transpose(image, [formats.index(axis) for axis in "HWC"])
    channels = image.shape[2]
    if channels == 1:
        image = np.repeat(image, 3, axis=2)
    elif channels not in (3, 4):
        raise ValueError(f"add_image('{tag}'): an image needs 1, 3 or 4 channels, got {channels}")
    return image


def _to_uint8(image):
    # As torch: uint8 images are kept; anything else is taken to be in [0, 1].
    if image.dtype == np.uint8:
        return image
    return (image.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)


def _grid(images, ncols=8):
    """N images (N, C, H, W) side by side, ``ncols`` per row, as one (C, rows*H, ncols*W) image."""
    count, channels, height, width = images.shape
    if channels == 1:
        images = np.repeat(images, 3, axis=1)
        channels = 3
    ncols = min(count, ncols)
    nrows = math.ceil(count / ncols)
    canvas = np.zeros((channels, nrows * height, ncols * width), dtype=images.dtype)
    for index in range(count):
        row, col = divmod(index, ncols)
        canvas[:, row * height : (row + 1) * height, col * width : (col + 1) * width] = images[index]
    return canvas


def _default_log_dir(comment):
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir`` (default ``runs/DATE_HOST{comment}``).

    Accepts glassgrad Tensors (and NumPy arrays, numbers, torch tensors) wherever torch's writer
    accepts tensors. Usable as a context manager; ``close()`` flushes and closes the files.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        self._pb = _tb()
        self.log_dir = str(log_dir) if log_dir is not None else _default_log_dir(comment)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self._pb["EventFileWriter"](self.log_dir, max_queue, flush_secs, filename_suffix)
        self._scalars_writers = {}
        if purge_step is not None:
            # TensorBoard drops earlier records with a step >= purge_step when it sees this marker.
            self._add_event(self._pb["event"].Event(session_log=self._pb["event"].SessionLog(status=1)), purge_step)

    def get_logdir(self):
        """The folder this writer writes into."""
        return self.log_dir

    # ----- plumbing -----
    def _add_event(self, event, global_step=None, walltime=None, writer=None):
        event.wall_time = time.time() if walltime is None else float(walltime)
        if global_step is not None:
            event.step = int(global_step)
        (writer or self.file_writer).add_event(event)

    def _add_summary(self, values, global_step=None, walltime=None, writer=None):
        summary = self._pb["summary"].Summary(value=values)
        self._add_event(self._pb["event"].Event(summary=summary), global_step, walltime, writer)

    def _image_value(self, tag, hwc):
        from PIL import Image

        buffer = BytesIO()
        Image.fromarray(hwc).save(buffer, format="PNG")
        height, width, channels = hwc.shape
        image = self._pb["summary"].Summary.Image(
            height=height, width=width, colorspace=channels, encoded_image_string=buffer.getvalue()
        )
        return self._pb["summary"].Summary.Value(tag=tag, image=image)

    # ----- scalars -----
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False, double_precision=False):
        """One number for ``tag`` at ``global_step``."""
        value = _scalar(scalar_value, tag)
        pb = self._pb["summary"]
        if new_style:
            dtype = "DT_DOUBLE" if double_precision else "DT_FLOAT"
            tensor = self._pb["tensor"].TensorProto(
                dtype=dtype,
                tensor_shape=self._pb["shape"].TensorShapeProto(),
                **({"double_val": [value]} if double_precision else {"float_val": [value]}),
            )
            metadata = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name="scalars"))
            entry = pb.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
        else:
            entry = pb.Summary.Value(tag=tag, simple_value=value)
        self._add_summary([entry], global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves in one chart: each key gets its own run folder ``log_dir/main_tag_key``."""
        for tag, value in tag_scalar_dict.items():
            folder = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            writer = self._scalars_writers.get(folder)
            if writer is None:
                writer = self._pb["EventFileWriter"](folder, self.max_queue, self.flush_secs, self.filename_suffix)
                self._scalars_writers[folder] = writer
            entry = self._pb["summary"].Summary.Value(tag=main_tag, simple_value=_scalar(value, main_tag))
            self._add_summary([entry], global_step, walltime, writer)

    # ----- distributions -----
    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """The distribution of ``values`` (any shape); ``bins`` as ``numpy.histogram`` takes them, or
        ``'tensorflow'`` for TensorBoard's exponential buckets."""
        array = _numpy(values).astype(np.float64).ravel()
        if array.size == 0:
            raise ValueError(f"add_histogram('{tag}'): the values are empty")
        if not np.isfinite(array).all():
            raise ValueError(f"add_histogram('{tag}'): the values contain NaN or infinity")
        if isinstance(bins, str) and bins == "tensorflow":
            bins = _tensorflow_buckets()
        counts, edges = np.histogram(array, bins=bins)
        if max_bins is not None and len(counts) > max_bins:
            factor = math.ceil(len(counts) / max_bins)
            pad = (-len(counts)) % factor
            counts = np.pad(counts, (0, pad)).reshape(-1, factor).sum(axis=1)
            edges = np.concatenate([edges[:-1:factor], edges[-1:]])
        nonzero = np.flatnonzero(counts)
        # TensorBoard draws from the first to the last non-empty bucket; the empty tails are dropped.
        first, last = nonzero[0], nonzero[-1] + 1
        proto = self._pb["summary"].HistogramProto(
            min=float(array.min()),
            max=float(array.max()),
            num=int(array.size),
            sum=float(array.sum()),
            sum_squares=float(np.dot(array, array)),
            bucket_limit=edges[first + 1 : last + 1].tolist(),
            bucket=counts[first:last].astype(np.float64).tolist(),
        )
        self._add_summary([self._pb["summary"].Summary.Value(tag=tag, histo=proto)], global_step, walltime)

    # ----- images -----
    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image, (3, H, W) by default; floats are taken to be in [0, 1], uint8 in [0, 255]."""
        hwc = _to_uint8(_hwc(_numpy(img_tensor), dataformats, tag))
        self._add_summary([self._image_value(tag, np.ascontiguousarray(hwc))], global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images (N, C, H, W) by default, shown as one grid of 8 per row."""
        images = _numpy(img_tensor)
        formats = dataformats.upper()
        if sorted(formats) != sorted("NCHW") or images.ndim != 4:
            raise ValueError(
                f"add_images('{tag}'): dataformats='{dataformats}' does not fit an array of shape "
                f"{tuple(images.shape)}; use 'NCHW' or 'NHWC'"
            )
        images = np.transpose(images, [formats.index(axis) for axis in "NCHW"])
        self.add_image(tag, _grid(images), global_step, walltime, dataformats="CHW")

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, shown side by side) rendered to an image."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        figures = figure if isinstance(figure, (list, tuple)) else [figure]
        images = []
        for fig in figures:
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            images.append(np.asarray(canvas.buffer_rgba())[..., :3].transpose(2, 0, 1))
            if close:
                import matplotlib.pyplot as plt

                plt.close(fig)
        image = images[0] if len(images) == 1 else _grid(np.stack(images))
        self.add_image(tag, image, global_step, walltime, dataformats="CHW")

    # ----- text -----
    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Text (Markdown) under ``tag``, shown in TensorBoard's Text tab."""
        pb, tensor_pb, shape_pb = self._pb["summary"], self._pb["tensor"], self._pb["shape"]
        content = self._pb["text"].TextPluginData(version=0).SerializeToString()
        metadata = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name="text", content=content))
        tensor = tensor_pb.TensorProto(
            dtype="DT_STRING",
            string_val=[str(text_string).encode("utf-8")],
            tensor_shape=shape_pb.TensorShapeProto(dim=[shape_pb.TensorShapeProto.Dim(size=1)]),
        )
        entry = pb.Summary.Value(tag=f"{tag}/text_summary", metadata=metadata, tensor=tensor)
        self._add_summary([entry], global_step, walltime)

    # ----- hyperparameters -----
    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        """One trial for TensorBoard's HParams tab: its hyperparameters and final metrics.

        As torch's writer does, the trial goes into its own run folder ``log_dir/run_name``
        (default: the current time), with each metric also written there as a scalar.
        """
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("add_hparams: hparam_dict and metric_dict must be dicts")
        api, hp, pb = self._pb["api"], self._pb["hparams"], self._pb["summary"]
        from google.protobuf import struct_pb2

        infos, values = [], {}
        for name, value in hparam_dict.items():
            if isinstance(value, bool):
                values[name] = struct_pb2.Value(bool_value=value)
                kind = api.DATA_TYPE_BOOL
            elif isinstance(value, (int, float)):
                values[name] = struct_pb2.Value(number_value=float(value))
                kind = api.DATA_TYPE_FLOAT64
            elif isinstance(value, str):
                values[name] = struct_pb2.Value(string_value=value)
                kind = api.DATA_TYPE_STRING
            elif isinstance(value, Tensor) or value is None:
                number = None if value is None else _scalar(value, name)
                values[name] = struct_pb2.Value(number_value=float("nan") if number is None else number)
                kind = api.DATA_TYPE_FLOAT64
            else:
                raise TypeError(
                    f"add_hparams: the value of '{name}' is a {type(value).__name__}; use a bool, number or string"
                )
            info = api.HParamInfo(name=name, type=kind)
            domain = (hparam_domain_discrete or {}).get(name)
            if domain is not None:
                info.domain_discrete.extend(list(domain))
            infos.append(info)
        metrics = [api.MetricInfo(name=api.MetricName(tag=tag)) for tag in metric_dict]

        def record(tag, **fields):
            content = hp.HParamsPluginData(version=0, **fields).SerializeToString()
            metadata = pb.SummaryMetadata(
                plugin_data=pb.SummaryMetadata.PluginData(plugin_name="hparams", content=content)
            )
            return pb.Summary.Value(tag=tag, metadata=metadata)

        experiment = record("_hparams_/experiment", experiment=api.Experiment(hparam_infos=infos, metric_infos=metrics))
        start = hp.SessionStartInfo(start_time_secs=time.time())
        for name, value in values.items():
            start.hparams[name].CopyFrom(value)
        started = record("_hparams_/session_start_info", session_start_info=start)
        ended = record("_hparams_/session_end_info", session_end_info=hp.SessionEndInfo(status=api.STATUS_SUCCESS))
        with SummaryWriter(log_dir=os.path.join(self.log_dir, run_name or str(time.time()))) as trial:
            for entry in (experiment, started, ended):
                trial._add_summary([entry], global_step)
            for tag, value in metric_dict.items():
                trial.add_scalar(tag, value, global_step)

    # ----- graph -----
    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The graph of ``model(input_to_model)`` for TensorBoard's Graphs tab.

        The forward pass is run once; every autograd operation becomes a node named by the module
        that produced it (``layer1/0/conv1/Convolution``), parameters become inputs named as in
        ``named_parameters()``.
        """
        from glassgrad.viz.graph import graph as build_graph

        if input_to_model is None:
            raise ValueError("add_graph: pass input_to_model, an example input (or tuple of inputs) for the model")
        inputs = input_to_model if isinstance(input_to_model, (list, tuple)) else (input_to_model,)
        scopes, shapes = {}, {}
        handles = []
        for path, module in model.named_modules():

            def hook(module, args, output, path=path):
                outputs = output if isinstance(output, (list, tuple)) else (output,)
                for out in outputs:
                    if isinstance(out, Tensor) and out.grad_fn is not None:
                        # Hooks fire innermost first: the first scope recorded is the most precise.
                        scopes.setdefault(out.grad_fn, path)
                        shapes.setdefault(out.grad_fn, tuple(out.shape))

            handles.append(module.register_forward_hook(hook))
        try:
            output = model(*inputs)
        finally:
            for handle in handles:
                handle.remove()
        outputs = output if isinstance(output, (list, tuple)) else (output,)
        outputs = [out for out in outputs if isinstance(out, Tensor) and out.grad_fn is not None]
        if not outputs:
            raise ValueError("add_graph: the model's output has no graph (is it run under no_grad, or frozen?)")
        parameter_names = {id(p): name for name, p in model.named_parameters()}
        root = type(model).__name__
        nodes, names, scope_of = [], {}, {}
        for out in outputs:
            for node in build_graph(out).nodes:
                if node.fn in names:
                    continue
                if node.kind == "input":
                    leaf = node.fn.variable
                    label = parameter_names.get(id(leaf), f"input_{len(names)}")
                    scope_of[node.fn] = label.rpartition(".")[0]
                    names[node.fn] = f"{root}/{label.replace('.', '/')}"
                    nodes.append((node, "Parameter", [], tuple(leaf.shape)))
                    continue
                children = [child for child in node.fn.next_functions if child is not None and child in names]
                scope = scopes.get(node.fn)
                if scope is None:
                    # An op written in a forward() (a residual add, a flatten) belongs to the module
                    # that owns its first input's producer.
                    scope = scope_of[children[0]].rpartition(".")[0] if children else ""
                scope_of[node.fn] = scope
                parts = (root, scope.replace(".", "/"), f"{node.op}_{len(names)}")
                names[node.fn] = "/".join(part for part in parts if part)
                nodes.append((node, node.op, [names[child] for child in children], shapes.get(node.fn)))
        defs = []
        attr_pb = self._pb["attr"]
        for node, op, inputs_of, shape in nodes:
            attrs = {}
            if shape is not None:
                attrs["shape"] = attr_pb.AttrValue(s=str(list(shape)).encode())
            defs.append(self._pb["node"].NodeDef(name=names[node.fn], op=op, input=inputs_of, attr=attrs))
        graph = self._pb["graph"].GraphDef(node=defs, versions=self._pb["versions"].VersionDef(producer=22))
        if verbose:
            for item in defs:
                print(item.name, item.op, list(item.input))
        self._add_event(self._pb["event"].Event(graph_def=graph.SerializeToString()))

    # ----- lifetime -----
    def flush(self):
        """Writes what is queued to disk."""
        self.file_writer.flush()
        for writer in self._scalars_writers.values():
            writer.flush()

    def close(self):
        """Flushes and closes every event file of this writer."""
        self.file_writer.close()
        for writer in self._scalars_writers.values():
            writer.close()
        self._scalars_writers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _tensorflow_buckets():
    """TensorBoard's default histogram edges: +-1e-12 growing by 10% per bucket up to 1e20, and 0."""
    positive = 1e-12 * 1.1 ** np.arange(math.ceil(math.log(1e32) / math.log(1.1)))
    positive = positive[positive < 1e20]
    return np.concatenate([-positive[::-1], [0.0], positive])
