"""torchvision.datasets for glassgrad: readers of the official file formats, and the embedded digits."""

from glassgrad.vision.datasets import utils
from glassgrad.vision.datasets.cifar import CIFAR10, CIFAR100, RestrictedUnpickler, UnsafePickleError, restricted_load
from glassgrad.vision.datasets.cifar_jpeg import CIFAR10JPEG, find_cifar10_jpeg, load_cifar10_jpeg
from glassgrad.vision.datasets.digits import Digits
from glassgrad.vision.datasets.fakedata import FakeData
from glassgrad.vision.datasets.folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, pil_loader
from glassgrad.vision.datasets.matlab import MatFileError, loadmat
from glassgrad.vision.datasets.mnist import EMNIST, KMNIST, MNIST, FashionMNIST, read_idx
from glassgrad.vision.datasets.stl10 import STL10
from glassgrad.vision.datasets.svhn import SVHN
from glassgrad.vision.datasets.utils import DatasetNotFoundError
from glassgrad.vision.datasets.vision import ImageArrayDataset, VisionDataset
