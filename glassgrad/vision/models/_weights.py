"""Weights for torchvision's architectures from files the user supplies: glassgrad downloads nothing.

``Weights(path, categories=...)`` plays the part of a torchvision weights enum entry: ``meta``
(categories, file, number of parameters once loaded), ``transforms()`` (the ImageNet
preprocessing: resize, center crop, to tensor, normalize) and ``get_state_dict()``. Builders take
``weights=`` as such an object or as a path to a safetensors file (or a glassgrad checkpoint of a
state dict); a torch ``.pth`` zip is read by glassgrad.load's restricted unpickler (tensors only).
``VGG16_Weights.IMAGENET1K_V1`` and its kin name the file torchvision would have downloaded into
torch hub's cache: glassgrad uses that file when it is there and says where to put it when not.
"""

import json
import os
import struct

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MAX_HEADER = 100_000_000


def _safetensors_metadata(path):
    """The ``__metadata__`` strings of a safetensors header, or ``{}`` for any other file."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return {}
        (length,) = struct.unpack("<Q", head)
        if length > _MAX_HEADER:
            return {}
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, ValueError):
            return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def _categories_from(meta):
    # Written by whoever converted the file: a JSON list under "categories".
    text = meta.get("categories")
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = text.splitlines()
    return [str(c) for c in value]


def _state_of(obj, path):
    if isinstance(obj, dict) and obj and all(hasattr(v, "shape") for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj:
                return _state_of(obj[key], path)
    raise ValueError(f"{path} holds no state dict (a mapping of names to tensors); got {type(obj).__name__}")


def read_state_dict(path):
    """name -> Tensor from a safetensors file, a glassgrad checkpoint of a state dict, or a torch
    ``.pth`` zip (read by glassgrad.load's restricted unpickler, never by pickle itself)."""
    import glassgrad
    from glassgrad.io import CheckpointError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"weights file {path!r} does not exist (glassgrad downloads nothing; pass a local file)"
        )
    try:
        state = _state_of(glassgrad.load(path), path)
    except CheckpointError as error:
        raise ValueError(f"{path}: not a safetensors, glassgrad or torch.save state-dict file ({error})") from None
    return {k: v if isinstance(v, glassgrad.Tensor) else glassgrad.tensor(v) for k, v in state.items()}


class ImageClassification:
    """torchvision's evaluation preprocessing: resize the short side to ``resize_size``, center crop
    ``crop_size``, scale to [0, 1], normalize with ``mean``/``std``. PIL image or (C, H, W) tensor in,
    (3, crop, crop) float32 tensor out."""

    def __init__(self, crop_size=224, resize_size=256, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.crop_size, self.resize_size, self.mean, self.std = crop_size, resize_size, tuple(mean), tuple(std)

    def __call__(self, img):
        import glassgrad
        from glassgrad.vision.transforms import functional as TF

        img = TF.center_crop(TF.resize(img, self.resize_size), self.crop_size)
        if not isinstance(img, glassgrad.Tensor):
            img = TF.to_tensor(img)
        elif not img.dtype.is_floating_point:
            img = img.float() / 255.0
        return TF.normalize(img, self.mean, self.std)

    def __repr__(self):
        return (
            f"ImageClassification(crop_size={self.crop_size}, resize_size={self.resize_size}, "
            f"mean={self.mean}, std={self.std})"
        )


class Weights:
    """A local weights file standing in for a torchvision weights entry.

    ``categories`` (class names, one per output) default to the JSON list stored under
    ``categories`` in the safetensors file's metadata, if any. ``transforms()`` gives the
    preprocessing the weights expect (ImageNet's by default; pass ``crop_size``, ``resize_size``,
    ``mean``, ``std`` for others).
    """

    def __init__(self, path, categories=None, crop_size=224, resize_size=256, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(
                f"weights file {self.path!r} does not exist (glassgrad downloads nothing; pass a local file)"
            )
        stored = _safetensors_metadata(self.path)
        if categories is None:
            categories = _categories_from(stored)
        self.meta = {"file": self.path, "categories": list(categories) if categories is not None else None}
        # The file's own strings (e.g. "recipe", "license"); glassgrad's bookkeeping stays out.
        self.meta.update(
            {k: v for k, v in stored.items() if k not in ("categories", "format") and "glassgrad" not in k}
        )
        self._preprocess = dict(crop_size=crop_size, resize_size=resize_size, mean=mean, std=std)

    url = property(lambda self: self.path)

    def transforms(self):
        return ImageClassification(**self._preprocess)

    def get_state_dict(self, progress=True, check_hash=False):
        """name -> Tensor; ``progress`` and ``check_hash`` are accepted for torchvision's API and unused."""
        state = read_state_dict(self.path)
        self.meta["num_params"] = sum(int(v.numel()) for k, v in state.items() if not k.endswith(_BUFFER_SUFFIXES))
        return state

    def __repr__(self):
        return f"Weights({self.path!r})"


_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def get_weight(path, **options):
    """``Weights(path, **options)``: torchvision's ``get_weight`` for a file you supply."""
    if isinstance(path, Weights):
        return path
    if isinstance(path, str) and not os.path.exists(path) and ("_Weights." in path or path.isupper()):
        raise ValueError(
            f"{path!r} names one of torchvision's downloadable weights; glassgrad downloads nothing. Save them "
            "with torchvision (safetensors.torch.save_file(model.state_dict(), 'w.safetensors')) and pass the file"
        )
    return Weights(path, **options)


def resolve(weights, pretrained, builder):
    """The ``Weights`` a builder was asked for, or None; a clear error for downloads."""
    if pretrained and weights is None:
        raise ValueError(
            f"{builder}(pretrained=True) would download torchvision's weights, and glassgrad downloads nothing; "
            "save them with torchvision as safetensors and pass weights='path/to/file.safetensors'"
        )
    if weights is None:
        return None
    if isinstance(weights, Weights):
        return weights
    if isinstance(weights, HubWeights):
        return weights.local()
    if isinstance(weights, (str, os.PathLike)):
        return get_weight(weights)
    raise TypeError(f"{builder}: weights must be None, a Weights or a path to a file, got {type(weights).__name__}")


def check_classes(weights, kwargs):
    """torchvision's rule: weights with known categories fix ``num_classes`` (default or checked)."""
    categories = weights.meta.get("categories")
    if categories is None:
        return
    given = kwargs.setdefault("num_classes", len(categories))
    if given != len(categories):
        raise ValueError(
            f"num_classes={given} does not match the {len(categories)} categories of {weights.path}; "
            "drop num_classes or pass the matching number"
        )


def load_into(model, weights, progress=True, remap=None):
    state = weights.get_state_dict(progress=progress)
    if remap is not None:
        state = remap(state)
    model.load_state_dict(state)
    return model


def hub_dir():
    """torch hub's folder: ``$TORCH_HOME/hub``, by default ``$XDG_CACHE_HOME/torch/hub`` (``~/.cache/torch/hub``)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "torch"
    )
    return os.path.join(home, "hub")


class HubWeights:
    """One of torchvision's downloadable weights (``VGG16_Weights.IMAGENET1K_V1``), named by its file.

    glassgrad downloads nothing: ``local()`` gives the ``Weights`` of the file torchvision would
    have cached in ``hub_dir()/checkpoints``, or raises FileNotFoundError saying where to put it.
    """

    def __init__(self, enum, name, filename):
        self.enum, self.name, self.filename = enum, name, filename
        self.url = "https://download.pytorch.org/models/" + filename

    @property
    def path(self):
        return os.path.join(hub_dir(), "checkpoints", self.filename)

    def local(self):
        if not os.path.isfile(self.path):
            raise FileNotFoundError(
                f"{self.enum}.{self.name}: torchvision would download {self.url}; glassgrad downloads nothing. "
                f"Copy that file to {self.path} (torch hub's cache; TORCH_HOME moves it), or pass "
                "weights='path/to/file' (.pth, .safetensors), or weights=None for random weights"
            )
        return Weights(self.path)

    def get_state_dict(self, progress=True, check_hash=False):
        return self.local().get_state_dict(progress, check_hash)

    def transforms(self):
        return ImageClassification()

    def __repr__(self):
        return f"{self.enum}.{self.name}"


def _hub_enum(enum, filename):
    """A class standing for torchvision's weights enum ``enum``, with ``IMAGENET1K_V1`` and ``DEFAULT``."""
    entry = HubWeights(enum, "IMAGENET1K_V1", filename)
    return type(enum, (), {"IMAGENET1K_V1": entry, "DEFAULT": entry, "__doc__": HubWeights.__doc__})


VGG16_Weights = _hub_enum("VGG16_Weights", "vgg16-397923af.pth")
VGG19_Weights = _hub_enum("VGG19_Weights", "vgg19-dcbb9e9d.pth")
ResNet18_Weights = _hub_enum("ResNet18_Weights", "resnet18-f37072fd.pth")
ResNet50_Weights = _hub_enum("ResNet50_Weights", "resnet50-0676ba61.pth")
