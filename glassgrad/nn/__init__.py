"""Neural-network building blocks with PyTorch's names: ``from glassgrad import nn``."""

from glassgrad.nn.parameter import Parameter  # noqa: I001  (Module needs Parameter first)
from glassgrad.nn.module import Module
from glassgrad.nn import functional, init, utils
from glassgrad.nn.activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from glassgrad.nn.conv import Conv1d, Conv2d
from glassgrad.nn.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from glassgrad.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from glassgrad.nn.flatten import Flatten, Unflatten
from glassgrad.nn.linear import Identity, Linear
from glassgrad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from glassgrad.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from glassgrad.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from glassgrad.nn.sparse import Embedding
from glassgrad.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from glassgrad.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
)
from glassgrad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from glassgrad.nn.activation import MultiheadAttention
from glassgrad.nn.linear import NonDynamicallyQuantizableLinear
from glassgrad.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from glassgrad.nn.conv import ConvTranspose1d, ConvTranspose2d
from glassgrad.nn.distance import CosineSimilarity, PairwiseDistance
from glassgrad.nn.fold import Fold, Unfold
from glassgrad.nn.loss import (
    CosineEmbeddingLoss,
    GaussianNLLLoss,
    MarginRankingLoss,
    PoissonNLLLoss,
    TripletMarginLoss,
)
from glassgrad.nn.pixelshuffle import PixelShuffle, PixelUnshuffle
from glassgrad.nn.lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyConv1d, LazyConv2d, LazyLinear
from glassgrad.nn.parameter import UninitializedBuffer, UninitializedParameter
from glassgrad.nn.conv import Conv3d
from glassgrad.nn.pooling import AvgPool3d, MaxPool3d
from glassgrad.nn.loss import CTCLoss
from glassgrad.nn.pooling import AdaptiveAvgPool1d, AdaptiveMaxPool1d, AvgPool1d, MaxPool1d
from glassgrad.nn.sync_batchnorm import SyncBatchNorm
from glassgrad.nn import parallel  # noqa: E402
from glassgrad.nn.parallel import DataParallel  # noqa: E402
from glassgrad.nn.activation import GLU, Hardshrink, Softshrink  # noqa: E402
from glassgrad.nn.normalization import RMSNorm  # noqa: E402
from glassgrad.nn.sparse import EmbeddingBag  # noqa: E402
