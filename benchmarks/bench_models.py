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


def cifar_resnet(fw, depth):
    """The CIFAR ResNet-(6n+2) of ``resnet20``, n = (depth - 2) // 6 blocks per stage (56, 110)."""
    model = resnet20(fw)
    nn = fw.nn
    block_type = type(model.layer1[0])
    n = (depth - 2) // 6
    in_planes = 16
    for index, planes in enumerate((16, 32, 64)):
        blocks = [block_type(in_planes, planes, 1 if index == 0 else 2)]
        blocks += [block_type(planes, planes, 1) for _ in range(n - 1)]
        in_planes = planes
        setattr(model, f"layer{index + 1}", nn.Sequential(*blocks))
    return model


def _basic_block(fw):
    nn, F = fw.nn, fw.nn.functional

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or in_planes != planes:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + (x if self.downsample is None else self.downsample(x)))

    return BasicBlock


def _bottleneck(fw):
    nn, F = fw.nn, fw.nn.functional

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, in_planes, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.downsample = None
            if stride != 1 or in_planes != planes * 4:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = F.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return F.relu(out + (x if self.downsample is None else self.downsample(x)))

    return Bottleneck


def stage_resnet(fw, blocks, bottleneck=False, imagenet=False):
    """ResNet-18/50: stages of 64-512 planes with projection shortcuts; ``imagenet``: the 7x7
    stride-2 stem and 3x3 max pool (state_dict keys as torchvision's), else a 3x3 CIFAR stem."""
    nn = fw.nn
    block = _bottleneck(fw) if bottleneck else _basic_block(fw)

    class StageResNet(nn.Module):
        def __init__(self):
            super().__init__()
            if imagenet:
                self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
                self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            else:
                self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
                self.maxpool = None
            self.bn1 = nn.BatchNorm2d(64)
            in_planes = 64
            for index, (count, planes) in enumerate(zip(blocks, (64, 128, 256, 512))):
                stage = []
                for b in range(count):
                    stage.append(block(in_planes, planes, 2 if b == 0 and index > 0 else 1))
                    in_planes = planes * block.expansion
                setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(in_planes, 1000 if imagenet else 10)

        def forward(self, x):
            x = fw.nn.functional.relu(self.bn1(self.conv1(x)))
            if self.maxpool is not None:
                x = self.maxpool(x)
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return StageResNet()


def vgg11_bn(fw):
    """VGG-11 with batch norm and the CIFAR head (keys as glassgrad.vision.models.vgg11_bn)."""
    nn = fw.nn
    layers, channels = [], 3
    for item in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            continue
        layers += [nn.Conv2d(channels, item, 3, padding=1), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
        channels = item

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(512, 10)

        def forward(self, x):
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    return VGG()


def cifar_mobilenet_v2(fw):
    """Twin of glassgrad.vision.models.cifar_mobilenet_v2 (same keys): inverted residuals of
    1x1 expansion, depthwise 3x3 and 1x1 projection."""
    nn = fw.nn

    class InvertedResidual(nn.Module):
        def __init__(self, in_planes, out_planes, stride, expansion):
            super().__init__()
            hidden = in_planes * expansion
            layers = []
            if expansion != 1:
                layers += [nn.Conv2d(in_planes, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(True)]
            layers += [
                nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
                nn.BatchNorm2d(hidden),
                nn.ReLU6(True),
                nn.Conv2d(hidden, out_planes, 1, bias=False),
                nn.BatchNorm2d(out_planes),
            ]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and in_planes == out_planes

        def forward(self, x):
            out = self.conv(x)
            return x + out if self.residual else out

    stages = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
    layers, channels = [nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(True)], 32
    for expansion, planes, count, stride in stages:
        for b in range(count):
            layers.append(InvertedResidual(channels, planes, stride if b == 0 else 1, expansion))
            channels = planes
    layers += [nn.Conv2d(channels, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(True)]

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 10))

        def forward(self, x):
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    return MobileNetV2()


def cifar_densenet121(fw):
    """Twin of glassgrad.vision.models.cifar_densenet121 (same keys): growth 32, blocks 6-12-24-16."""
    nn, F = fw.nn, fw.nn.functional

    class DenseLayer(nn.Module):
        def __init__(self, in_planes, growth):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(in_planes)
            self.conv1 = nn.Conv2d(in_planes, 4 * growth, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(4 * growth)
            self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

        def forward(self, x):
            out = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
            return fw.cat([x, out], 1)

    class Transition(nn.Module):
        def __init__(self, in_planes, out_planes):
            super().__init__()
            self.bn = nn.BatchNorm2d(in_planes)
            self.conv = nn.Conv2d(in_planes, out_planes, 1, bias=False)

        def forward(self, x):
            return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)

    class DenseNet(nn.Module):
        def __init__(self, blocks=(6, 12, 24, 16), growth=32):
            super().__init__()
            channels = 2 * growth
            self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
            for index, count in enumerate(blocks):
                layers = []
                for _ in range(count):
                    layers.append(DenseLayer(channels, growth))
                    channels += growth
                setattr(self, f"dense{index + 1}", nn.Sequential(*layers))
                if index + 1 < len(blocks):
                    setattr(self, f"trans{index + 1}", Transition(channels, channels // 2))
                    channels //= 2
            self.bn = nn.BatchNorm2d(channels)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.linear = nn.Linear(channels, 10)

        def forward(self, x):
            x = self.trans1(self.dense1(self.conv1(x)))
            x = self.trans3(self.dense3(self.trans2(self.dense2(x))))
            x = self.avgpool(F.relu(self.bn(self.dense4(x))))
            return self.linear(x.flatten(1))

    return DenseNet()


def mlp(fw, sizes=(784, 512, 512, 10)):
    """Linear layers with ReLU between them (keys layers.0, layers.2, ...)."""
    nn = fw.nn
    layers = []
    for index, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if index + 2 < len(sizes):
            layers.append(nn.ReLU())

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(*layers)

        def forward(self, x):
            return self.layers(x)

    return MLP()


BUILDERS = {
    "simplecnn_sigmoid": lambda fw: simple_cnn(fw, "sigmoid"),
    "simplecnn_relu": lambda fw: simple_cnn(fw, "relu"),
    "resnet20": resnet20,
    "cifar_resnet18": lambda fw: stage_resnet(fw, (2, 2, 2, 2)),
    "cifar_mobilenet_v2": cifar_mobilenet_v2,
    "vgg11_bn": vgg11_bn,
    "cifar_densenet121": cifar_densenet121,
    "resnet56": lambda fw: cifar_resnet(fw, 56),
    "resnet110": lambda fw: cifar_resnet(fw, 110),
    "imagenet_resnet18": lambda fw: stage_resnet(fw, (2, 2, 2, 2), imagenet=True),
    "imagenet_resnet50": lambda fw: stage_resnet(fw, (3, 4, 6, 3), bottleneck=True, imagenet=True),
    "mlp": mlp,
}


def build(fw, name):
    if name not in BUILDERS:
        raise ValueError(f"unknown benchmark model {name!r}; choose one of {', '.join(BUILDERS)}")
    return BUILDERS[name](fw)


def copy_weights(torch_model, glassgrad_model):
    """Load the PyTorch twin's state_dict into the glassgrad model (same keys, same shapes)."""
    import glassgrad

    state = {k: glassgrad.tensor(v.detach().cpu().numpy().copy()) for k, v in torch_model.state_dict().items()}
    glassgrad_model.load_state_dict(state)
