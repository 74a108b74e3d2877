"""Neural-network building blocks with PyTorch's names: ``from glassgrad import nn``."""

from glassgrad.nn.parameter import Parameter  # noqa: I001  (Module needs Parameter first)
from glassgrad.nn.module import Module
from glassgrad.nn import functional, init
from glassgrad.nn.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from glassgrad.nn.flatten import Flatten, Unflatten
from glassgrad.nn.linear import Identity, Linear
