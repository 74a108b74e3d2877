"""The benchmarked networks, written once against the PyTorch API so that the same code builds
the glassgrad model and its PyTorch twin (``fw`` is ``glassgrad`` or ``torch``).

Module names follow the seed's SimpleCNN and glassgrad.vision.models.resnet20, so state_dict
keys match theirs and weights copy across by name.
"""


def simple_cnn(fw, activation="sigmoid"):
    """The seed's CIFAR-10 CNN: conv 3->32->64->128 (3x3, padding 1), each with the activation and
    MaxPool2d(2), then Linear(2048, 256), the activation, Linear(256, 10)."""
    nn = fw.nn

    class SimpleCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1 = nn.Linear(128 * 4 * 4, 256)
            self.fc2 = nn.Linear(256, 10)
            setattr(self, activation, nn.Sigmoid() if activation == "sigmoid" else nn.ReLU())
            self.activation = activation

        def forward(self, x):
            act = getattr(self, self.activation)
            x = self.pool(act(self.conv1(x)))
            x = self.pool(act(self.conv2(x)))
            x = self.pool(act(self.conv3(x)))
            x = x.view(x.size(0), 128 * 4 * 4)
            return self.fc2(act(self.fc1(x)))

    return SimpleCNN()


def resnet20(fw):
    """ResNet-20 for CIFAR (He et al. 2016): widths 16, 32, 64, three BasicBlocks per stage,
    option A shortcuts (every second pixel, zero-padded channels), BatchNorm, global average pool."""
    nn = fw.nn
    F = fw.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, in_planes, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.stride = stride
            self.pad_channels = planes - in_planes

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            identity = x
            if self.stride != 1 or self.pad_channels:
                half = self.pad_channels // 2
                identity = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, half, self.pad_channels - half))
            return F.relu(out + identity)

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            in_planes = 16
            for index, planes in enumerate((16, 32, 64)):
                first_stride = 1 if index == 0 else 2
                blocks = [BasicBlock(in_planes, planes, first_stride)]
                blocks += [BasicBlock(planes, planes, 1) for _ in range(2)]
                in_planes = planes
                setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(self.avgpool(x).view(x.size(0), -1))

    return ResNet20()


def build(fw, name):
    if name == "simplecnn_sigmoid":
        return simple_cnn(fw, "sigmoid")
    if name == "simplecnn_relu":
        return simple_cnn(fw, "relu")
    if name == "resnet20":
        return resnet20(fw)
    raise ValueError(f"unknown benchmark model {name!r}")


def copy_weights(torch_model, glassgrad_model):
    """Load the PyTorch twin's state_dict into the glassgrad model (same keys, same shapes)."""
    import glassgrad

    state = {k: glassgrad.tensor(v.detach().cpu().numpy().copy()) for k, v in torch_model.state_dict().items()}
    glassgrad_model.load_state_dict(state)
