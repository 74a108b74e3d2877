"""The seed's CIFAR-10 network: three 3x3 convolutions, max pooling, two linear layers."""

from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


class SimpleCNN(nn.Module):
    """conv 3->32, 32->64, 64->128 (3x3, padding 1), each followed by the activation and ``MaxPool2d(2, 2)``,
    then ``Linear(128 * H/8 * W/8, 256)``, the activation, ``Linear(256, num_classes)``.

    With the defaults (``activation='sigmoid'``, 3x32x32 input, 10 classes) this is the seed's network
    exactly, including its attribute names, so its ``state_dict`` keys are the seed's:
    620,362 parameters (``Linear(2048, 256)`` holds 524,544 of them). The seed's network does not
    learn (its sigmoids make the gradients vanish); ``activation='relu'`` is the fix, and
    ``batch_norm=True`` adds ``BatchNorm2d`` after each convolution.

    Other sizes: 1x28x28 (Fashion-MNIST) flattens 128*3*3 = 1152 features (390,410
    parameters); 1x8x8 (digits) flattens 128 (128,266 parameters).

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, num_classes=10, in_channels=3, input_size=32, activation="sigmoid", batch_norm=False):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"SimpleCNN: unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}")
        h, w = pair(input_size)
        check_size("SimpleCNN", h, w, 8)
        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
        if batch_norm:
            self.bn1 = nn.BatchNorm2d(32)
            self.bn2 = nn.BatchNorm2d(64)
            self.bn3 = nn.BatchNorm2d(128)
        self.batch_norm = batch_norm
        self.pool = nn.MaxPool2d(2, 2)
        self.flat_features = 128 * (h // 8) * (w // 8)
        self.fc1 = nn.Linear(self.flat_features, 256)
        self.fc2 = nn.Linear(256, num_classes)
        # Named as in the seed when it is a sigmoid, so the module tree prints the same.
        setattr(self, activation, _ACTIVATIONS[activation]())
        self.activation = activation

    def forward(self, x):
        act = getattr(self, self.activation)
        for i in (1, 2, 3):
            x = getattr(self, f"conv{i}")(x)
            if self.batch_norm:
                x = getattr(self, f"bn{i}")(x)
            x = self.pool(act(x))
        x = x.flatten(1)
        x = act(self.fc1(x))
        return self.fc2(x)
