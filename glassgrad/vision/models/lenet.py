"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998)."""

from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair


class LeNet5(nn.Module):
    """LeNet-5: conv 5x5 (6) -> tanh -> avg-pool 2 -> conv 5x5 (16) -> tanh -> avg-pool 2 ->
    120 -> tanh -> 84 -> tanh -> num_classes.

    Designed for 32x32 grey images: 61,706 parameters with 10 classes. Inputs smaller than 32 are
    zero-padded by the first convolution up to (about) 32, as LeCun padded the 28x28 MNIST digits,
    so 1x28x28 Fashion-MNIST images also give 61,706 parameters; larger inputs grow the first
    linear layer. C5 is written as the linear layer it is on a 5x5 map (``fc1``, 400 -> 120).

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, num_classes=10, in_channels=1, input_size=32):
        super().__init__()
        h, w = pair(input_size)
        check_size("LeNet5", h, w, 4)
        pad_h, pad_w = max(0, (33 - h) // 2), max(0, (33 - w) // 2)
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=(pad_h, pad_w))
        self.pool1 = nn.AvgPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.AvgPool2d(2, 2)
        fh = ((h + 2 * pad_h - 4) // 2 - 4) // 2
        fw = ((w + 2 * pad_w - 4) // 2 - 4) // 2
        self.flat_features = 16 * fh * fw
        self.fc1 = nn.Linear(self.flat_features, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.act = nn.Tanh()

    def forward(self, x):
        x = self.pool1(self.act(self.conv1(x)))
        x = self.pool2(self.act(self.conv2(x)))
        x = x.flatten(1)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)
