"""torchvision's ImageNet AlexNet (Krizhevsky et al. 2012, the one-GPU variant torchvision builds).

For 32x32 images use ``cifar_alexnet`` in ``cifar_alexnet``.
"""

from glassgrad import nn
from glassgrad.vision.models import _weights


class AlexNet(nn.Module):
    """Five convolutions (64, 192, 384, 256, 256; 11x11 stride 4 first), three 3x3 stride-2 max pools,
    adaptive average pool to 6x6, and the 4096-4096 classifier with dropout; PyTorch's default init.

    Input: (N, 3, H, W), 224x224 for ImageNet weights (>= 63). Output: (N, num_classes).
    """

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(*, weights=None, progress=True, pretrained=False, **kwargs):
    """torchvision's AlexNet (61,100,840 parameters at 1000 classes). ``weights``: None, a ``Weights``
    or a local safetensors/state-dict file; other keyword arguments go to ``AlexNet``."""
    weights = _weights.resolve(weights, pretrained, "alexnet")
    if weights is not None:
        _weights.check_classes(weights, kwargs)
    model = AlexNet(**kwargs)
    if weights is not None:
        _weights.load_into(model, weights, progress)
    return model
