"""Random numbers: a global generator seeded by ``manual_seed``, and ``Generator`` objects."""

import json

import numpy as np


class Generator:
    """A source of random numbers with its own state (PyTorch's ``torch.Generator``)."""

    # PyTorch's torch.Generator() starts from this seed; the global generator does not (below).
    DEFAULT_SEED = 67280421310721

    def __init__(self, device="cpu"):
        self.manual_seed(self.DEFAULT_SEED)

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns the generator."""
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self):
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor (JSON inside), storable in a checkpoint."""
        from glassgrad.tensor import Tensor

        state = self.rng.bit_generator.state
        text = json.dumps({"seed": self._seed, "state": _stringify(state)})
        return Tensor(np.frombuffer(text.encode(), dtype=np.uint8).copy())

    def set_state(self, state):
        array = state.array if hasattr(state, "array") else np.asarray(state)
        payload = json.loads(bytes(array.astype(np.uint8)).decode())
        self._seed = payload["seed"]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = _unstringify(payload["state"])
        return self


def _stringify(state):
    # PCG64's 128-bit integers do not fit JSON numbers everywhere, so they travel as strings.
    if isinstance(state, dict):
        return {k: _stringify(v) for k, v in state.items()}
    if isinstance(state, int) and not isinstance(state, bool):
        return {"int": str(state)}
    return state


def _unstringify(state):
    if isinstance(state, dict):
        if set(state) == {"int"}:
            return int(state["int"])
        return {k: _unstringify(v) for k, v in state.items()}
    return state


default_generator = Generator()
# As in PyTorch, an unseeded process starts from a random seed (``initial_seed()`` differs per
# run); ``glassgrad.manual_seed(s)`` makes a run repeatable.
default_generator.seed()


def _rng(generator):
    return (generator or default_generator).rng


def manual_seed(seed):
    """Seed the global generator, so that runs repeat; returns it."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def normal(mean, std, shape, generator=None, dtype=np.float32):
    return _rng(generator).normal(mean, std, shape).astype(dtype, copy=False)


def uniform(low, high, shape, generator=None, dtype=np.float32):
    return _rng(generator).uniform(low, high, shape).astype(dtype, copy=False)


def standard_normal(shape, generator=None, dtype=np.float32):
    dt = np.float64 if dtype == np.float64 else np.float32
    return _rng(generator).standard_normal(shape, dtype=dt).astype(dtype, copy=False)


def random(shape, generator=None, dtype=np.float32):
    dt = np.float64 if dtype == np.float64 else np.float32
    return _rng(generator).random(shape, dtype=dt).astype(dtype, copy=False)


def integers(low, high, shape, generator=None):
    return _rng(generator).integers(low, high, shape, dtype=np.int64)


def permutation(n, generator=None):
    return _rng(generator).permutation(n).astype(np.int64)
