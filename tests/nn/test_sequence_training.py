"""The recurrent and attention layers train: a few optimizer steps lower the loss, as in the
time-sequence and language-model examples (float32, default initialisation)."""

import numpy as np

import glassgrad
from glassgrad import nn


def _train(model, step, steps=40, lr=0.01):
    optimizer = glassgrad.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = step()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_lstm_learns_to_continue_a_sine():
    glassgrad.manual_seed(0)
    t = np.linspace(0, 4 * np.pi, 41, dtype=np.float32)
    phases = np.linspace(0, 1, 8, dtype=np.float32)[:, None]
    wave = glassgrad.tensor(np.sin(t[None, :] + phases))  # (8, 41)
    x, y = wave[:, :-1].unsqueeze(-1), wave[:, 1:].unsqueeze(-1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 16, batch_first=True)
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            return self.head(self.lstm(x)[0])

    model = Model()
    losses = _train(model, lambda: nn.functional.mse_loss(model(x), y))
    assert losses[-1] < 0.2 * losses[0], losses[::10]


def test_gru_language_model_and_transformer_lower_their_loss():
    glassgrad.manual_seed(0)
    vocab, length, batch = 12, 10, 6
    tokens = glassgrad.tensor(np.tile(np.arange(length + 1) % vocab, (batch, 1)))  # a fixed pattern to learn
    inputs, targets = tokens[:, :-1], tokens[:, 1:]

    class LM(nn.Module):
        def __init__(self, recurrent):
            super().__init__()
            self.embed = nn.Embedding(vocab, 16)
            self.recurrent = recurrent
            self.head = nn.Linear(16, vocab)

        def forward(self, x):
            h = self.embed(x)
            if isinstance(self.recurrent, nn.GRU):
                h = self.recurrent(h)[0]
            else:
                mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
                h = self.recurrent(h, mask=mask, is_causal=True)
            return self.head(h)

    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, batch_first=True)
    for recurrent in (nn.GRU(16, 16, num_layers=2, batch_first=True), nn.TransformerEncoder(layer, 2)):
        model = LM(recurrent)

        def step(model=model):
            logits = model(inputs)
            return nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))

        losses = _train(model, step, steps=30, lr=0.01)
        assert losses[-1] < 0.5 * losses[0], (type(recurrent).__name__, losses[::10])
