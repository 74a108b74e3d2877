"""A direct convolution for float32: a small kernel written in LLVM's intermediate language with
llvmlite (numba's compiler library) and compiled for this CPU.

Why: im2col + GEMM moves the data twice before it multiplies anything. The columns are a
kh*kw-fold copy of the input, and OpenBLAS then copies them once more into its packed panels.
On ResNet-20's 16-channel 32x32 layers that is half of the convolution's time. This kernel
reads the padded image where it lies (figures against im2col + GEMM: benchmarks/README.md,
"Convolution").

How: on a zero-padded plane flattened to Hp*Wp (the "wide rows" of glassgrad/ops/conv/wide.py), output pixel
p = h*Wp + w reads, for kernel offset (i, j), input p + i*dh*Wp + j*dw: a single shift per
offset, the same for every pixel. (With a stride the caller first splits the padded image into
its phases, which makes the shifts whole again; see ``glassgrad.ops.conv.direct.forward``.) So the kernel
takes one offset per kernel position, and computes

    out[n, o, p] = sum over c, t of weight[o, c, t] * images[n*image_stride + c*channel_stride + p + offsets[t]]

A tile of 16 consecutive pixels by 4 output channels (two vectors of 8 floats each) keeps its
8 accumulators in registers while the sum runs over the channels and the offsets: each step
loads two input vectors and four weights, and does 8 fused multiply-adds. With AVX-512 the tile
is 16 pixels by 8 channels, one 16-float vector each (``tile()``): the same 8 accumulators do
twice the work per instruction, 1.5-1.7x the speed on ResNet-20's layers. Over the wide rows
the pixels past each row's end, and the tiles' round-up, are computed too, and thrown away by
the caller; rows of whole tiles are computed without them (``conv2d``'s ``rows``).

Arrays: ``images`` flat float32, readable up to ``reach(...)`` floats from the last image's
start; weights as ``pack_weight`` makes them, (C_out_k/k, C, taps, k) for the tile's k output
channels, with C_out rounded up to a multiple of k with zeros; ``out`` (n, C_out_k, pixels) float32.

``weight_grad`` computes the weight gradient from the same inputs: for 4 output channels and 3
kernel offsets at a time it keeps 12 accumulators of 8 lanes in registers while it runs over the
pixels, and leaves the lanes for the caller to add up.

Summed with fused multiply-adds, channel by channel and within a channel offset by offset:
within float32 rounding of the im2col path, not bit for bit. Available on x86-64 with AVX2 and
FMA, and on 64-bit ARM, when llvmlite imports; ``GLASSGRAD_NO_NUMBA=1`` turns it off with the
other compiled kernels.
"""

import ctypes
import importlib.util
import platform
import threading
import types

import numpy as np

PIXELS = 16  # per tile
CHANNELS = 4  # output channels per tile of the weight gradient (and of conv2d with 8-float vectors)
MAX_TAPS = 49  # kernel offsets, unrolled in the code: compile time grows with them
WEIGHT_GRAD_TAPS = 3  # offsets summed at once by weight_grad: 4 x 3 = 12 accumulators, 3 inputs, 1 gradient
# weight_grad's vectors: 8 floats everywhere. With AVX-512, 16 took 0.96-1.07x the time of 8 on
# ResNet-20's layers: its loop is bound by the loads, not the multiply-adds.
WEIGHT_GRAD_LANES = 8

_VECTOR = 8
_lock = threading.Lock()
_kernels: dict = {}  # (function name, kernel offsets) -> the compiled function
_engines: list = []  # the compiled code lives as long as its engine
_state: dict = {}


def available():
    """Whether the kernel can run here (decided once: llvmlite imports and the CPU fits)."""
    if "available" not in _state:
        _state["available"] = _check()
    return _state["available"]


def tile():
    """(floats per vector, output channels) of a tile of ``conv2d``'s kernel on this CPU; a tile
    is always ``PIXELS`` wide. With AVX-512, one 16-float vector by 8 channels; else two 8-float
    vectors by 4 channels. Either way 8 accumulators, enough to hide the fused multiply-add's
    latency on two ports."""
    if "tile" not in _state:
        _state["tile"] = (16, 8) if _host_features().get("avx512f") else (_VECTOR, CHANNELS)
    return _state["tile"]


def _host_features():
    """LLVM's feature flags of this CPU ({} where llvmlite is missing or cannot tell)."""
    try:
        import llvmlite.binding as llvm

        return llvm.get_host_cpu_features()
    except (ImportError, RuntimeError):
        return {}


def _check():
    from glassgrad import backend

    if backend.BACKEND != "numba":
        return False
    if importlib.util.find_spec("llvmlite") is None:
        return False
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        features = _host_features()
        # Without hardware FMA, llvm.fma becomes a library call per element.
        return bool(features.get("avx2")) and bool(features.get("fma"))
    return machine in ("aarch64", "arm64")


def tiles(pixels):
    """How many tiles cover ``pixels`` wide-row pixels (H_out*Wp)."""
    return -(-pixels // PIXELS)


def reach(offsets, channels, channel_stride, pixels, rows=None):
    """How many floats from an image's start the kernel may read: the furthest offset, from the
    last channel, for the last vector of ``pixels`` outputs (``rows`` as in ``conv2d``). Past
    the image's own data that is the tiles' round-up and the wrap of the rightmost offsets, read
    only for thrown-away pixels."""
    last = _input_start(tiles(pixels) - 1, rows)  # whole tiles are computed
    return int(max(offsets)) + (channels - 1) * channel_stride + last + PIXELS


def _input_start(tile, rows):
    if rows is None:
        return tile * PIXELS
    row_stride, width = rows
    h, along = divmod(tile * PIXELS, width)
    return h * row_stride + along


def pack_weight(weight):
    """(C_out, C, kh, kw) -> (C_out/k, C, kh*kw, k) for the k output channels of ``tile()``,
    C_out padded with zeros to a multiple of k: each tile reads its k weights of one (channel,
    offset) side by side."""
    c_out, c, kh, kw = weight.shape
    k = tile()[1]
    padded = -(-c_out // k) * k
    packed = np.zeros((padded, c, kh * kw), np.float32)
    packed[:c_out] = weight.reshape(c_out, c, kh * kw)
    return np.ascontiguousarray(packed.reshape(padded // k, k, c, kh * kw).transpose(0, 2, 3, 1))


def conv2d(images, packed, out, count, offsets, channel_stride, image_stride, rows=None):
    """out[n, o, p] = sum over channels c and kernel offsets t of packed weight (o, c, t) times
    images[n*image_stride + c*channel_stride + q(p) + offsets[t]], for ``count`` images, with
    ``pack_weight``'s weights; ``images`` is a flat float32 array, ``offsets`` int64, one per
    kernel position in (i, j) order.

    Without ``rows``, q(p) = p over the wide rows: ``out`` is (count, C_out_k, tiles*16) and the
    caller drops what lies past each row's end. With ``rows`` = (row stride, W_out) and W_out a
    multiple of 16, only the kept pixels are computed, row by row: p = h*W_out + w reads q(p) =
    h*row_stride + w, and ``out`` is (count, C_out_k, H_out*W_out), so that it may be the result
    itself. The sizes are checked first, since the compiled code trusts them. Releases the GIL
    while it runs."""
    blocks, channels, taps, per_block = packed.shape
    pixels = out.shape[2]
    _check_arrays("conv2d", {"images": images, "weights": packed, "out": out}, offsets, taps)
    if per_block != tile()[1]:
        raise ValueError(f"direct_conv.conv2d: weights of shape {packed.shape} are not pack_weight's")
    if out.shape[0] < count or out.shape[1] != blocks * per_block or pixels % PIXELS:
        raise ValueError(
            f"direct_conv.conv2d: out has shape {out.shape}, expected ({count}, {blocks * per_block}, k*16)"
        )
    if rows is not None and (rows[1] % PIXELS or pixels % rows[1] or rows[0] < rows[1]):
        raise ValueError(f"direct_conv.conv2d: rows {rows} do not fit {pixels} pixels of whole tiles")
    _check_reach("conv2d", images, count, offsets, channels, channel_stride, image_stride, pixels, rows)
    segments, row_stride, width = (pixels // PIXELS, 0, 0) if rows is None else (rows[1] // PIXELS, *rows)
    kernel(taps, *tile())(
        images.ctypes.data,
        packed.ctypes.data,
        out.ctypes.data,
        offsets.ctypes.data,
        channels,
        channel_stride,
        image_stride,
        pixels // PIXELS,
        blocks,
        count,
        segments,
        row_stride,
        width,
    )


def kernel(taps, vector, channels):
    """The compiled kernel for ``taps`` kernel offsets and a tile of ``vector``-float vectors by
    ``channels`` output channels (built on first use, then kept)."""
    return _compiled((taps, vector, channels), _build_module, "direct_conv")


def _compiled(shape, build, name):
    """Function ``name`` as ``build(ir, *shape)`` makes it, compiled once per process."""
    fn = _kernels.get((name, shape))
    if fn is None:
        with _lock:
            fn = _kernels.get((name, shape))
            if fn is None:
                fn = _kernels[(name, shape)] = _compile_module(build, shape, name)
    return fn


def _check_arrays(op, arrays, offsets, taps):
    """The compiled code's dtypes and layouts, checked before it trusts them."""
    if not all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays.values()):
        raise ValueError(f"direct_conv.{op}: {', '.join(arrays)} must be C-contiguous float32 arrays")
    if offsets.dtype != np.int64 or offsets.shape != (taps,) or not offsets.flags.c_contiguous or offsets.min() < 0:
        raise ValueError(f"direct_conv.{op}: expected {taps} non-negative int64 offsets, got {offsets!r}")


def _check_reach(op, images, count, offsets, channels, channel_stride, image_stride, pixels, rows):
    """That ``images`` holds every float the kernel reads for ``count`` images (see ``reach``)."""
    needed = (count - 1) * image_stride + reach(offsets, channels, channel_stride, pixels, rows) if count else 0
    if images.size < needed:
        raise ValueError(f"direct_conv.{op}: images hold {images.size} floats, {needed} are read")


def weight_grad(images, grads, out, count, offsets, channel_stride, image_stride, rows):
    """out[o, c, t] += sum over images n and kept pixels p of grads[n, o, p] times
    images[n*image_stride + c*channel_stride + q(p) + offsets[t]], the weight gradient of
    ``conv2d`` with ``rows`` (row stride, W_out), W_out a multiple of 8: ``grads`` is
    (count, C_out4, H_out*W_out) float32, ``out`` float32 in the layout
    (C_out4/4, C, taps, 4) with a last axis of 8 lanes, summed by the caller (each lane adds up
    every eighth pixel; keeping them apart until the end spares a sum across the lanes of every
    accumulator for every image). Sizes are checked first; releases the GIL while it runs."""
    blocks, channels, taps = out.shape[:3]
    pixels = grads.shape[2]
    _check_arrays("weight_grad", {"images": images, "grads": grads, "out": out}, offsets, taps)
    lanes = WEIGHT_GRAD_LANES
    if grads.shape[0] < count or grads.shape[1] != blocks * CHANNELS or out.shape[3:] != (CHANNELS, lanes):
        raise ValueError(f"direct_conv.weight_grad: grads {grads.shape} and out {out.shape} do not match")
    row_stride, width = rows
    if width % lanes or pixels % width or row_stride < width:
        raise ValueError(f"direct_conv.weight_grad: rows {rows} do not fit {pixels} pixels of whole vectors")
    _check_reach("weight_grad", images, count, offsets, channels, channel_stride, image_stride, pixels, rows)
    _compiled((taps, lanes), _build_weight_grad_module, "direct_conv_weight_grad")(
        images.ctypes.data,
        grads.ctypes.data,
        out.ctypes.data,
        offsets.ctypes.data,
        channels,
        channel_stride,
        image_stride,
        blocks,
        count,
        pixels // width,
        width // lanes,
        row_stride,
    )


def _compile_module(build, shape, name):
    """Build the IR of function ``name`` (four pointers, then int64 arguments), compile it for
    this CPU and return it as a ctypes function."""
    import llvmlite.binding as llvm
    import llvmlite.ir as ir

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    module = build(ir, *shape)
    module.triple = llvm.get_process_triple()
    integers = len(module.get_global(name).args) - 4
    target = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3
    )
    parsed = llvm.parse_assembly(str(module))
    parsed.verify()
    if hasattr(llvm, "create_pass_builder"):  # llvmlite >= 0.44; older ones compile it unoptimised, nearly as fast
        passes = llvm.create_pass_builder(target, llvm.create_pipeline_tuning_options(speed_level=3))
        passes.getModulePassManager().run(parsed, passes)
    engine = llvm.create_mcjit_compiler(parsed, target)
    engine.finalize_object()
    _engines.append(engine)
    pointer = ctypes.c_void_p
    # CFUNCTYPE calls release the GIL: the convolution's chunk threads run the kernel side by side.
    signature = ctypes.CFUNCTYPE(None, pointer, pointer, pointer, pointer, *[ctypes.c_int64] * integers)
    return signature(engine.get_function_address(name))


def _kernel_ir(ir, name, integers, taps, lanes):
    """A kernel's function ``name`` in a new module, four noalias pointers (images, a second
    float array, out, offsets) then ``integers`` int64 arguments, with what its body is built
    from: the IR builder ``b``, the ``lanes``-float ``vector`` type and ``fma``, ``const(value)``,
    ``loop(name, trip_count, body, carried)``, ``load_vector(base, offset)`` and the ``taps``
    offsets, loaded once."""
    f32, i64 = ir.FloatType(), ir.IntType(64)
    vector = ir.VectorType(f32, lanes)
    module = ir.Module(name=f"glassgrad_{name}")
    fn = ir.Function(
        module,
        ir.FunctionType(ir.VoidType(), [f32.as_pointer()] * 3 + [i64.as_pointer()] + [i64] * integers),
        name=name,
    )
    for pointer in fn.args[:4]:
        pointer.add_attribute("noalias")
    fma = ir.Function(module, ir.FunctionType(vector, [vector] * 3), name=f"llvm.fma.v{lanes}f32")
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def const(value):
        return ir.Constant(i64, value)

    def loop(name, trip_count, body, carried=()):
        """for index in range(trip_count): carried = body(index, carried); returns the final carried."""
        before = b.block
        head, inside, after = (fn.append_basic_block(f"{name}.{part}") for part in ("head", "body", "end"))
        b.branch(head)
        b.position_at_end(head)
        index = b.phi(i64, name=name)
        index.add_incoming(const(0), before)
        values = []
        for initial in carried:
            value = b.phi(vector)
            value.add_incoming(initial, before)
            values.append(value)
        b.cbranch(b.icmp_signed("<", index, trip_count), inside, after)
        b.position_at_end(inside)
        updated = body(index, values) or []
        end_of_body = b.block
        index.add_incoming(b.add(index, const(1)), end_of_body)
        for value, new in zip(values, updated):
            value.add_incoming(new, end_of_body)
        b.branch(head)
        b.position_at_end(after)
        return values

    def load_vector(base, offset):
        return b.load(b.bitcast(b.gep(base, [offset]), vector.as_pointer()), align=4)

    offsets = [b.load(b.gep(fn.args[3], [const(t)])) for t in range(taps)]
    return types.SimpleNamespace(
        module=module,
        args=fn.args,
        b=b,
        vector=vector,
        fma=fma,
        const=const,
        loop=loop,
        load_vector=load_vector,
        offsets=offsets,
    )


def _build_module(ir, taps, lanes, per_block):
    """The kernel as LLVM IR: loops over images, tiles of pixels, blocks of ``per_block`` output
    channels and input channels; the ``taps`` kernel offsets are unrolled inside the channel
    loop, and each tile holds ``PIXELS / lanes`` vectors per output channel."""
    parts = _kernel_ir(ir, "direct_conv", 9, taps, lanes)
    b, vector, fma, const, loop = parts.b, parts.vector, parts.fma, parts.const, parts.loop
    load_vector, offsets = parts.load_vector, parts.offsets
    images, weights, out, _, channels, plane, image_stride, n_tiles, blocks, count = parts.args[:10]
    segments, row_stride, width = parts.args[10:]  # where a tile lies: see conv2d

    def splat(scalar):
        first = b.insert_element(ir.Constant(vector, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(
            first, ir.Constant(vector, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        )

    row = b.mul(n_tiles, const(PIXELS))  # out's stride between output channels
    vectors = PIXELS // lanes

    def image(n, _):
        image_in = b.gep(images, [b.mul(n, image_stride)])
        image_out = b.gep(out, [b.mul(n, b.mul(b.mul(blocks, const(per_block)), row))])

        def tile(t, _):
            # Tile t is the (t % segments)-th run of 16 pixels in row t // segments: it reads
            # from row*row_stride + segment*16 and writes to row*width + segment*16 (q(p) and p
            # in conv2d; the wide rows are one row of n_tiles segments).
            row_index, segment = b.udiv(t, segments), b.urem(t, segments)
            along = b.mul(segment, const(PIXELS))
            first_read = b.add(b.mul(row_index, row_stride), along)
            first_write = b.add(b.mul(row_index, width), along)

            def block(o, _):
                def channel(c, sums):
                    source = b.gep(image_in, [b.add(b.mul(c, plane), first_read)])
                    taps_at = b.gep(weights, [b.mul(b.add(b.mul(o, channels), c), const(taps * per_block))])
                    sums = list(sums)
                    for tap, offset in enumerate(offsets):
                        xs = [load_vector(source, b.add(offset, const(lanes * v))) for v in range(vectors)]
                        for k in range(per_block):
                            w = splat(b.load(b.gep(taps_at, [const(tap * per_block + k)])))
                            for v in range(vectors):
                                sums[k * vectors + v] = b.call(fma, [xs[v], w, sums[k * vectors + v]])
                    return sums

                zero = ir.Constant(vector, [0.0] * lanes)
                sums = loop("c", channels, channel, [zero] * (per_block * vectors))
                for k in range(per_block):
                    start = b.add(b.mul(b.add(b.mul(o, const(per_block)), const(k)), row), first_write)
                    for v in range(vectors):
                        target = b.gep(image_out, [b.add(start, const(lanes * v))])
                        b.store(sums[k * vectors + v], b.bitcast(target, vector.as_pointer()), align=4)

            loop("o", blocks, block)

        loop("t", n_tiles, tile)

    loop("n", count, image)
    b.ret_void()
    return parts.module


def _build_weight_grad_module(ir, taps, lanes):
    """The weight gradient as LLVM IR: loops over images, blocks of 4 output channels, input
    channels and groups of 3 kernel offsets; within a group, over rows and vectors of 8 pixels,
    keeping 4 x 3 accumulators in registers and adding them to ``out`` lane by lane after each
    image."""
    parts = _kernel_ir(ir, "direct_conv_weight_grad", 8, taps, lanes)
    b, vector, fma, const, loop = parts.b, parts.vector, parts.fma, parts.const, parts.loop
    load_vector, offsets = parts.load_vector, parts.offsets
    images, grads, out, _, channels, plane, image_stride, blocks, count, n_rows, segments, row_stride = parts.args
    width = b.mul(segments, const(lanes))
    grad_plane = b.mul(n_rows, width)
    groups = [tuple(range(t, min(t + WEIGHT_GRAD_TAPS, taps))) for t in range(0, taps, WEIGHT_GRAD_TAPS)]

    def image(n, _):
        image_in = b.gep(images, [b.mul(n, image_stride)])
        image_grads = b.gep(grads, [b.mul(n, b.mul(b.mul(blocks, const(CHANNELS)), grad_plane))])

        def block(o, _):
            grad_rows = [
                b.gep(image_grads, [b.mul(b.add(b.mul(o, const(CHANNELS)), const(k)), grad_plane)])
                for k in range(CHANNELS)
            ]

            def channel(c, _):
                source = b.gep(image_in, [b.mul(c, plane)])
                sums_at = b.gep(out, [b.mul(b.add(b.mul(o, channels), c), const(taps * CHANNELS * lanes))])
                for group in groups:

                    def row(h, sums, group=group):
                        read = b.gep(source, [b.mul(h, row_stride)])
                        written = b.mul(h, width)

                        def segment(s, sums, group=group):
                            along = b.mul(s, const(lanes))
                            xs = [load_vector(read, b.add(offsets[t], along)) for t in group]
                            sums = list(sums)
                            for k in range(CHANNELS):
                                g = load_vector(grad_rows[k], b.add(written, along))
                                for i, x in enumerate(xs):
                                    sums[k * len(group) + i] = b.call(fma, [g, x, sums[k * len(group) + i]])
                            return sums

                        return loop("s", segments, segment, sums)

                    zero = ir.Constant(vector, [0.0] * lanes)
                    sums = loop("h", n_rows, row, [zero] * (CHANNELS * len(group)))
                    for k in range(CHANNELS):
                        for i, t in enumerate(group):
                            at = b.bitcast(b.gep(sums_at, [const((t * CHANNELS + k) * lanes)]), vector.as_pointer())
                            b.store(b.fadd(b.load(at, align=4), sums[k * len(group) + i]), at, align=4)

            loop("c", channels, channel)

        loop("o", blocks, block)

    loop("n", count, image)
    b.ret_void()
    return parts.module
