"""Padding, masks, the length-bucketing sampler and on-device batches."""

from __future__ import annotations

import numpy as np
import torch

from workbench import LengthBucketSampler, synthetic
from workbench.data import TensorBatches
from workbench.data.batching import lengths_to_mask, pad_sequences


def test_pad_sequences_and_mask_agree() -> None:
    X, lengths = pad_sequences([np.ones((2, 3)), np.ones((2, 5)), np.ones((2, 1))])
    assert X.shape == (3, 2, 5)
    mask = lengths_to_mask(torch.from_numpy(lengths))
    assert mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5, [True] + [False] * 4]
    assert (X.sum(axis=1) == 2 * mask.numpy()).all()


def test_bucket_sampler_covers_every_index_once_and_groups_similar_lengths() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=1000)
    sampler = LengthBucketSampler(lengths, batch_size=32, seed=0)
    batches = list(sampler)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert len(batches) == len(sampler) == 32
    # padding waste is far lower than with random batches
    waste = sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in batches)
    random_batches = np.array_split(rng.permutation(1000), 32)
    random_waste = sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in random_batches)
    assert waste < 0.1 * random_waste


def test_bucket_sampler_shuffles_batch_order_per_epoch() -> None:
    sampler = LengthBucketSampler(np.arange(100), batch_size=10, seed=0)
    first = [b.tolist() for b in sampler]
    sampler.set_epoch(1)
    second = [b.tolist() for b in sampler]
    assert first != second
    assert sorted(map(tuple, first)) == sorted(map(tuple, second))  # same buckets: lengths are unique


def test_tensor_batches_slice_fixed_length_data_without_copying_when_unshuffled() -> None:
    ds = synthetic.ordered_motifs(50, 32)
    batches = TensorBatches(ds, 16, shuffle=False)
    out = list(batches)
    assert [b.x.shape[0] for b in out] == [16, 16, 16, 2]  # a last batch of 2 stays; only singletons merge
    assert out[0].x.data_ptr() == batches.x.data_ptr()  # a view of the stored tensor
    assert out[0].lengths is None and out[0].mask is None


def test_tensor_batches_merge_a_final_batch_of_one() -> None:
    ds = synthetic.ordered_motifs(33, 32)
    sizes = [b.x.shape[0] for b in TensorBatches(ds, 16, shuffle=True, seed=1)]
    assert sizes == [16, 17]


def test_tensor_batches_trim_variable_length_batches_to_their_longest() -> None:
    ds = synthetic.variable_length_motifs(64, min_length=20, max_length=80)
    seen = []
    for batch in TensorBatches(ds, 8, seed=0):
        assert batch.lengths is not None and batch.mask is not None
        assert batch.x.shape[-1] == int(batch.lengths.max())
        assert batch.mask.sum().item() == int(batch.lengths.sum())
        seen.append(batch.y)
    assert sum(len(y) for y in seen) == 64


def test_tensor_batches_are_seeded() -> None:
    ds = synthetic.ordered_motifs(40, 16)
    a = [b.y.tolist() for b in TensorBatches(ds, 8, seed=5)]
    b = [b.y.tolist() for b in TensorBatches(ds, 8, seed=5)]
    assert a == b
