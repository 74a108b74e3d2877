"""Base classes of the vision datasets."""

import os

import numpy as np
from PIL import Image

from glassgrad.tensor import Tensor
from glassgrad.utils.data import Dataset
from glassgrad.vision.transforms import batch_transform


class VisionDataset(Dataset):
    """A dataset of images under ``root`` with an image ``transform`` and a ``target_transform``."""

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        self.root = os.path.expanduser(str(root)) if root is not None else None
        if transforms is not None and (transform is not None or target_transform is not None):
            raise ValueError(
                "give either transforms (applied to image and target together) or transform/target_transform"
            )
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = transforms

    def _apply(self, img, target):
        if self.transforms is not None:
            return self.transforms(img, target)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}")
        return f"Dataset {type(self).__name__}\n    " + "\n    ".join(lines)


class ImageArrayDataset(VisionDataset):
    """Images held in memory as one uint8 array (N, H, W, C) or (N, H, W), with integer labels.

    ``dataset[i]`` gives ``(PIL image, label)`` before the transform, as torchvision does. A
    DataLoader batch goes through ``__getitems__``, which augments the whole stack of uint8
    arrays at once when the transform allows it (see ``transforms.batch_transform``): the same
    values as one image at a time, in a fraction of the time.
    """

    _images: np.ndarray
    _labels: np.ndarray

    def __len__(self):
        return len(self._images)

    def __getitem__(self, index):
        img = Image.fromarray(self._images[index])
        return self._apply(img, int(self._labels[index]))

    def __getitems__(self, indices):
        out = None
        if self.transforms is None and self.transform is not None:
            # Fancy indexing copies, so the transforms may work in place on the stack.
            out = batch_transform(self.transform, self._images[np.asarray(indices, dtype=np.intp)], owned=True)
        if out is None:
            return [self[i] for i in indices]
        targets = [int(self._labels[i]) for i in indices]
        if self.target_transform is not None:
            targets = [self.target_transform(t) for t in targets]
        return [(Tensor._wrap(out[k]), t) for k, t in enumerate(targets)]

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"
