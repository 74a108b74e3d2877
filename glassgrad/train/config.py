"""The training defaults, in one place: a registry of datasets and the run's configuration.

``DATASETS`` says, per dataset, how to read it, its normalisation statistics, its augmentation and
the defaults that train a model on it (batch size, epochs, learning rate, label smoothing). A new
dataset is one ``DatasetSpec`` entry here (and its reader in ``glassgrad.vision.datasets``).

``RunConfig`` is one run's settings: it is what ``config.json`` holds, its fields marked
``resume`` are what ``glassgrad train --resume`` takes back from a checkpoint, and its field help
texts (with the defaults filled in from the registries) are the command line's help.
"""

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: where its images come from and what trains on it.

    ``readers``: names of ``glassgrad.vision.datasets`` classes tried in order (``root`` first as
    given, then ``root/<name>``); ``stats``: published per-channel ``(mean, std)``, or None to
    measure them on the training images; ``flips``: whether a horizontal mirror is a valid
    augmentation (clothes and photos yes, digits no); ``lr``: per-optimizer learning rates that
    override the optimizer's default on this dataset.
    """

    description: str
    readers: tuple = ()
    stats: tuple | None = None
    flips: bool = False
    downloadable: bool = False
    batch_size: int = 128
    epochs: int = 10
    lr: dict = field(default_factory=dict)
    label_smoothing: float = 0.0
    augment: bool = False


DATASETS = {
    # 1,500 training images of 8x8 pixels whose test images come from other writers: small batches
    # give enough steps, and shifting by a pixel (augment) is what generalises.
    "digits": DatasetSpec(
        "UCI 8x8 handwritten digits, 1,797 images, 10 classes (embedded, no download)",
        readers=("Digits",),
        batch_size=32,
        epochs=15,
        lr={"adam": 2e-3},
        label_smoothing=0.1,
        augment=True,
    ),
    "mnist": DatasetSpec(
        "MNIST handwritten digits, 28x28 grey, 10 classes (IDX files)",
        readers=("MNIST",),
        stats=((0.1307,), (0.3081,)),
        downloadable=True,
    ),
    "fashion-mnist": DatasetSpec(
        "Fashion-MNIST clothing, 28x28 grey, 10 classes (IDX files)",
        readers=("FashionMNIST",),
        stats=((0.2860,), (0.3530,)),
        flips=True,
        downloadable=True,
    ),
    "cifar10": DatasetSpec(
        "CIFAR-10, 32x32 colour, 10 classes (python batches or the JPEG ImageFolder copy)",
        # The official pickled batches first, then the JPEG copy (cifar10-jpeg.tar.gz).
        readers=("CIFAR10", "CIFAR10JPEG"),
        stats=((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
        flips=True,
        downloadable=True,
    ),
    "cifar100": DatasetSpec(
        "CIFAR-100, 32x32 colour, 100 classes (python batches)",
        readers=("CIFAR100",),
        stats=((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
        flips=True,
        downloadable=True,
    ),
    "imagefolder:PATH": DatasetSpec(
        "your images: PATH/train/<class>/*.png|jpg and PATH/test/<class>/...", readers=("ImageFolder",), flips=True
    ),
}


def dataset_spec(name):
    """The ``DatasetSpec`` of a dataset name as the command line spells it (``imagefolder:...`` included)."""
    key = str(name).lower()
    if key.startswith("imagefolder:"):
        return DATASETS["imagefolder:PATH"]
    key = key.replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}.get(key, key)
    return DATASETS.get(key)


def _per_dataset(attribute, fmt=str):
    """'15 on digits, else 10': a default as the registry gives it, for help texts."""
    base = getattr(DatasetSpec(""), attribute)
    special = [f"{fmt(getattr(spec, attribute))} for {name}" for name, spec in DATASETS.items()
               if getattr(spec, attribute) != base]  # fmt: skip
    return ", ".join([*special, f"else {fmt(base)}"]) if special else fmt(base)


# What the commands build for a model with these options (SimpleCNN), unless told otherwise.
MODEL_OPTION_DEFAULTS = {"activation": "relu", "batch_norm": "on"}


def _on_off(value):
    return "on" if value else "off"


def _field(help, default=None, resume=True, flag=True):
    return field(default=default, metadata={"help": help, "resume": resume, "flag": flag})


@dataclass
class RunConfig:
    """The settings of one ``glassgrad train`` run; None means "the default" until ``resolved``.

    ``metadata["resume"]`` marks the fields a resumed run takes back from its checkpoint (the others,
    such as ``epochs`` and ``workers``, the command line may change); ``metadata["help"]`` is the
    command line's help, where ``{default}`` is filled from the registries.
    """

    model: str = _field("a name from `glassgrad models` (default: {default})", "simple_cnn")
    dataset: str = _field("{choices} (default: {default})", "digits")
    data_dir: str = _field("folder holding the datasets (default: $GLASSGRAD_DATA, else ~/.glassgrad/data)")
    epochs: int = _field("epochs to train (default: {default})", resume=False)
    batch_size: int = _field("batch size (default: {default})")
    optimizer: str = _field("{choices} (default: {default})", "adam")
    lr: float = _field("learning rate (default: {default})")
    momentum: float = _field("momentum for sgd and rmsprop (default: {default})", 0.9)
    weight_decay: float = _field("L2 weight decay (default: {default})")
    schedule: str = _field("learning-rate schedule: {choices} (default: {default})", "cosine")
    label_smoothing: float = _field("label smoothing of the cross-entropy loss (default: {default})")
    activation: str = _field("activation of simple_cnn (default: {default}; 'sigmoid' is the seed's network)")
    batch_norm: str = _field("batch norm in simple_cnn (default: {default})")
    augment: bool = _field("random crops (and flips where the images allow them) (default: {default})")
    seed: int = _field("random seed: the same seed gives the same run (default: {default})", 0)
    limit: int = _field("use only N training and N test images, for quick runs")
    workers: int = _field("DataLoader worker processes (default: {default})", 0, resume=False)
    checkpoint_every: int = _field(
        "also write checkpoint.pt every STEPS steps inside epochs; it resumes under any number of processes "
        "(default: after each epoch only)",
        resume=False,
    )
    dist_timeout: float = _field(
        "seconds a process waits for the others (rendezvous, each collective) before the run fails "
        "(default: {default})",
        300.0,
        resume=False,
    )
    # What the run measured; written to config.json, not set on the command line.
    title: str = _field("", flag=False, resume=False)
    train_images: int = _field("", flag=False, resume=False)
    test_images: int = _field("", flag=False, resume=False)
    num_classes: int = _field("", flag=False, resume=False)
    input_shape: list = _field("", flag=False, resume=False)
    mean: list = _field("", flag=False, resume=False)
    std: list = _field("", flag=False, resume=False)
    parameters: int = _field("", flag=False, resume=False)
    # Data parallel (glassgrad train --nproc, or a launcher): how many processes, on which engine.
    world_size: int = _field("", 1, flag=False, resume=False)
    backend: str = _field("", flag=False, resume=False)
    per_process_batch: int = _field("", flag=False, resume=False)
    global_batch: int = _field("", flag=False, resume=False)

    @classmethod
    def resumed_fields(cls):
        """The fields ``--resume`` restores from the checkpoint's config."""
        return [f.name for f in dataclasses.fields(cls) if f.metadata["resume"]]

    @classmethod
    def help(cls, name):
        """The command-line help of field ``name``, with its defaults from the registries."""
        from glassgrad.train.recipes import OPTIMIZERS, SCHEDULES

        spec = {f.name: f for f in dataclasses.fields(cls)}[name]
        defaults = {
            "epochs": _per_dataset("epochs"),
            "batch_size": _per_dataset("batch_size"),
            "label_smoothing": _per_dataset("label_smoothing", lambda v: f"{v:g}"),
            "augment": _per_dataset("augment", _on_off),
            "lr": "the optimizer's: "
            + ", ".join(f"{n} {o.lr:g}" for n, o in OPTIMIZERS.items())
            + "; "
            + ", ".join(f"{o} {lr:g} for {d}" for d, s in DATASETS.items() for o, lr in s.lr.items()),
            "weight_decay": "the optimizer's: " + ", ".join(f"{n} {o.weight_decay:g}" for n, o in OPTIMIZERS.items()),
            **MODEL_OPTION_DEFAULTS,
        }
        choices = {"dataset": DATASETS, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}.get(name, ())
        return spec.metadata["help"].format(default=defaults.get(name, spec.default), choices=", ".join(choices))

    @classmethod
    def from_dict(cls, values):
        """A config from ``config.json`` or a checkpoint (unknown keys ignored: older or newer runs)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(values or {}).items() if k in names})

    def to_dict(self):
        return dataclasses.asdict(self)

    def resume_from(self, saved):
        """This config with the checkpoint's values for every field that ``--resume`` restores."""
        saved = saved if isinstance(saved, RunConfig) else RunConfig.from_dict(saved)
        restored = {name: getattr(saved, name) for name in self.resumed_fields()}
        return dataclasses.replace(self, **restored, epochs=self.epochs or saved.epochs)

    def resolved(self):
        """Every None setting replaced by its default: the dataset's, else the optimizer's, else the field's."""
        from glassgrad.train.recipes import OPTIMIZERS

        spec = dataset_spec(self.dataset or RunConfig.dataset) or DatasetSpec("")
        base = {f.name: f.default for f in dataclasses.fields(self)}
        optimizer = (self.optimizer or base["optimizer"]).lower()
        lr = self.lr if self.lr is not None else spec.lr.get(optimizer)
        if lr is None and optimizer in OPTIMIZERS:
            lr = OPTIMIZERS[optimizer].lr
        weight_decay = self.weight_decay
        if weight_decay is None and optimizer in OPTIMIZERS:
            weight_decay = OPTIMIZERS[optimizer].weight_decay
        return dataclasses.replace(
            self,
            optimizer=optimizer,
            model=self.model or base["model"],
            dataset=self.dataset or base["dataset"],
            schedule=self.schedule or base["schedule"],
            momentum=base["momentum"] if self.momentum is None else self.momentum,
            seed=base["seed"] if self.seed is None else self.seed,
            workers=base["workers"] if self.workers is None else self.workers,
            dist_timeout=base["dist_timeout"] if self.dist_timeout is None else self.dist_timeout,
            epochs=self.epochs or spec.epochs,
            batch_size=self.batch_size or spec.batch_size,
            augment=spec.augment if self.augment is None else bool(self.augment),
            label_smoothing=spec.label_smoothing if self.label_smoothing is None else self.label_smoothing,
            lr=lr,
            weight_decay=weight_decay,
        )
