"""GoogLeNet (Szegedy et al. 2015, Inception v1) with a CIFAR-scale stem (torchvision's ImageNet layout is in ``googlenet``)."""

import glassgrad as torch
from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair


class BasicConv2d(nn.Sequential):
    """Convolution without bias, BatchNorm, ReLU (torchvision's GoogLeNet building block)."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False),
            nn.BatchNorm2d(out_channels, eps=0.001),
            nn.ReLU(inplace=True),
        )


class CifarInception(nn.Module):
    """Four parallel branches concatenated along channels: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 (torchvision's
    choice where the paper has 5x5); 3x3 max pool -> 1x1.

    Input: (N, in_channels, H, W). Output: (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1), BasicConv2d(ch3x3red, ch3x3, 3, 1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1), BasicConv2d(ch5x5red, ch5x5, 3, 1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), BasicConv2d(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class CifarGoogLeNet(nn.Module):
    """Inception v1's nine Inception blocks with the paper's widths (3a-3b, pool, 4a-4e, pool,
    5a-5b, global average pool, dropout 0.4, linear), BatchNorm in every convolution as in
    torchvision, and a CIFAR-scale stem: conv 3x3 (64) -> max pool 2 -> conv 1x1 (64) -> conv 3x3 (192),
    the paper's stem with one downsampling instead of three, so 32x32 images reach the Inception
    blocks at 16x16, 8x8 and 4x4.

    Parameters with 10 classes: 5,602,474 at 3x32x32 (no layer depends on the input size);
    5,601,322 with 1 input channel.

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, num_classes=10, in_channels=3, input_size=32, dropout=0.4):
        super().__init__()
        h, w = pair(input_size)
        check_size("CifarGoogLeNet", h, w, 8)
        self.conv1 = BasicConv2d(in_channels, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.inception3a = CifarInception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = CifarInception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception4a = CifarInception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = CifarInception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = CifarInception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = CifarInception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = CifarInception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception5a = CifarInception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = CifarInception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.conv3(self.conv2(self.maxpool1(self.conv1(x))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for name in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, "inception" + name)(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        x = self.avgpool(x).flatten(1)
        return self.fc(self.dropout(x))
