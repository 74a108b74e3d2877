"""Helpers around modules: gradient clipping and flattening parameters into one vector."""

from glassgrad.nn.utils import fusion, parametrizations, parametrize, rnn
from glassgrad.nn.utils.clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_
from glassgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from glassgrad.nn.utils.init import skip_init
from glassgrad.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from glassgrad.nn.utils.weight_norm import remove_weight_norm, weight_norm
