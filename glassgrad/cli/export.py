"""``glassgrad export CHECKPOINT --format onnx``: a trained model as a file another runtime can run."""

from pathlib import Path

import numpy as np

import glassgrad
from glassgrad.cli import CLIError

FORMATS = ("onnx",)


def register(subparsers):
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint's model to ONNX",
        description="Export the model of a `glassgrad train` checkpoint to ONNX (needs the onnx package), "
        "with a dynamic batch axis, and check it with onnxruntime when that is installed.",
    )
    p.add_argument("checkpoint", help="checkpoint.pt from a run folder")
    p.add_argument("--format", default="onnx", choices=FORMATS, help="the file format (default: onnx)")
    p.add_argument(
        "--out", default=None, metavar="PATH", help="the file to write (default: model.onnx beside the checkpoint)"
    )
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version, 13-21 (default: 17)")
    p.set_defaults(handler=run)


def run(args):
    import glassgrad.onnx as gonnx
    from glassgrad.cli.evaluate import open_checkpoint

    state, model = open_checkpoint(args.checkpoint)
    shape = (state.get("config") or {}).get("input_shape")
    if not shape:
        raise CLIError(f"{args.checkpoint} does not record its input shape (config.input_shape); re-train to export it")
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / "model.onnx"
    glassgrad.manual_seed(0)
    example = glassgrad.randn(2, *shape)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    try:
        gonnx.export(model, example, out, input_names=["input"], output_names=["output"], dynamic_axes=axes,
                     opset_version=args.opset)  # fmt: skip
    except ModuleNotFoundError as error:
        raise CLIError(str(error)) from None
    except gonnx.OnnxExportError as error:
        raise CLIError(str(error)) from None
    print(f"wrote {out} ({out.stat().st_size:,} bytes): input (batch, {', '.join(map(str, shape))})", flush=True)
    try:
        import onnxruntime
    except ImportError:
        print("not checked: onnxruntime is not installed (pip install onnxruntime)")
        return 0
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    probe = glassgrad.randn(3, *shape)
    model.eval()
    with glassgrad.no_grad():
        expected = model(probe).numpy()
    got = session.run(None, {"input": probe.numpy()})[0]
    difference = float(np.abs(got - expected).max())
    print(f"checked with onnxruntime on a batch of 3: max |difference| from glassgrad {difference:.2e}")
    return 0
