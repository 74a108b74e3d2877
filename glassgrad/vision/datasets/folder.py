"""Datasets of image files laid out one folder per class: ``root/<class>/<image>``."""

import os

from PIL import Image

from glassgrad.vision.datasets.vision import VisionDataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def find_classes(directory):
    """``(classes, class_to_idx)``: the sub-folders of ``directory``, sorted, numbered from 0."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"find_classes: {directory} is not a folder; expected root/<class>/<image files>")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"find_classes: no class folders in {directory}; expected root/<class>/<image files>")
    return classes, {c: i for i, c in enumerate(classes)}


def has_file_allowed_extension(filename, extensions):
    return filename.lower().endswith(tuple(e.lower() for e in extensions))


def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
    """``[(path, class_index)]`` of the files under each class folder, in sorted order."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("make_dataset: give exactly one of extensions and is_valid_file")
    if is_valid_file is None:

        def is_valid_file(path):
            return has_file_allowed_extension(path, extensions)

    samples, empty = [], []
    for cls in sorted(class_to_idx):
        folder = os.path.join(directory, cls)
        before = len(samples)
        # Links are followed, but each real folder is walked once: a link loop would repeat it forever.
        seen, found = set(), []
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                dirnames.clear()
                continue
            seen.add(real)
            found.append((dirpath, filenames))
        for dirpath, filenames in sorted(found):
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[cls]))
        if len(samples) == before:
            empty.append(cls)
    if empty and not allow_empty:
        allowed = f" with extensions {', '.join(extensions)}" if extensions else ""
        raise FileNotFoundError(f"make_dataset: no valid files{allowed} in the class folders {empty} of {directory}")
    return samples


def pil_loader(path):
    """Open an image file with Pillow, as RGB."""
    try:
        with open(path, "rb") as f, Image.open(f) as img:
            return img.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise OSError(
            f"pil_loader: cannot read the image {path} ({error}); is it truncated or not an image?"
        ) from error


default_loader = pil_loader


class DatasetFolder(VisionDataset):
    """Samples are files under ``root/<class>/``, read by ``loader``; labels are class indices.

    Attributes: ``classes``, ``class_to_idx``, ``samples`` (list of (path, class_index)), ``targets``.
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None, is_valid_file=None, allow_empty=False):  # fmt: skip
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, self.class_to_idx, extensions, is_valid_file, allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.targets = [s[1] for s in self.samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory):
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """Images (JPEG, PNG, ...) under ``root/<class>/``, read as RGB PIL images by ``loader``."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None, allow_empty=False):  # fmt: skip
        super().__init__(
            root,
            loader,
            IMG_EXTENSIONS if is_valid_file is None else None,
            transform=transform,
            target_transform=target_transform,
            is_valid_file=is_valid_file,
            allow_empty=allow_empty,
        )
        self.imgs = self.samples
