"""Histograms against numpy.histogram, dead and saturated units against the definitions."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from engine import diagnostics, stats


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=1, max_size=300),
       st.sampled_from(["act", "weight", "grad"]))
def test_histogram_counts_equal_numpy_and_sum_to_the_values(values, kind):
    t = torch.tensor(values, dtype=torch.float32)
    spec = stats.first_spec(kind, t, nn.ReLU() if kind == "act" else None)
    e = stats.edges(spec)
    counts = stats.histogram(t, e)
    assert counts.tolist() == np.histogram(t.double().numpy(), bins=e)[0].tolist()
    assert int(counts.sum()) == t.numel()
    for dtype in (torch.float32, torch.float64):  # the records' fast bins count as numpy does too
        assert stats.Bins(spec, dtype, "cpu").counts(t.to(dtype)).tolist() == counts.tolist()


def test_values_beyond_the_edges_count_in_the_outer_bins():
    e = stats.edges(stats.linear_spec(-1.0, 1.0, 4))
    counts = stats.histogram(torch.tensor([-5.0, -1.0, 0.0, 1.0, 7.0, float("nan")]), e)
    assert counts.tolist() == [2, 0, 1, 2] and int(counts.sum()) == 5  # NaN left out


def test_symmetric_log_bins_cover_eight_decades_below_the_largest_gradient():
    spec = stats.symlog_spec(0.03)
    e = stats.edges(spec)
    assert e[-1] == pytest.approx(0.1) and e[0] == pytest.approx(-0.1)
    assert len(e) - 1 == 2 * 8 * 2 + 1 and np.all(np.diff(e) > 0)
    assert stats.histogram(torch.zeros(5), e).tolist()[len(e) // 2 - 1] == 5  # zero in the central bin


def _relu_net(bias: float) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU())
    with torch.no_grad():
        net[0].weight.uniform_(-1, 1)
        net[0].bias.fill_(bias)
    return net


@pytest.mark.parametrize("bias,dead", [(-100.0, 1.0), (100.0, 0.0)])
def test_relu_with_a_huge_negative_bias_is_all_dead(bias, dead):
    x = torch.rand(64, 4)  # |w·x| ≤ 4: the bias decides the sign
    (h,) = diagnostics.unit_health(_relu_net(bias), x)
    assert (h.layer, h.kind, h["dead"]) == ("1", "ReLU", dead) and h.saturated == 0.0
    out = _relu_net(bias)(x)
    assert h.dead == (out == 0).all(dim=0).double().mean().item()


def test_tanh_fed_plus_minus_50_is_all_saturated():
    net = nn.Sequential(nn.Identity(), nn.Tanh())
    x = torch.where(torch.rand(128, 10) < 0.5, -50.0, 50.0)
    (h,) = diagnostics.unit_health(net, x)
    assert h.saturated == 1.0 and h.dead == 0.0 and h.kind == "Tanh"
    (calm,) = diagnostics.unit_health(net, torch.randn(128, 10) * 0.1)
    assert calm.saturated == 0.0


def test_saturation_needs_95_percent_of_the_samples():
    net = nn.Sequential(nn.Sigmoid())
    x = torch.full((100, 2), 30.0)
    x[:6, 0] = 0.0  # unit 0 saturated in 94% of the samples only
    (h,) = diagnostics.unit_health(net, x)
    assert h.saturated == 0.5


def test_unit_health_leaves_the_model_as_it_was():
    net = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.5)).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    diagnostics.unit_health(net, torch.randn(16, 3))
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not any(m._forward_hooks for m in net.modules())


def test_float32_values_on_and_beside_the_edges_fall_in_numpys_bins():
    e = stats.edges(stats.linear_spec(-0.3, 0.7, 10))  # float64 edges that float32 cannot hold exactly
    near = torch.tensor(e[1:-1], dtype=torch.float32)
    values = torch.cat([near, torch.nextafter(near, torch.full_like(near, 1.0)),
                        torch.nextafter(near, torch.full_like(near, -1.0))])
    counts = stats.histogram(values, stats.edges_tensor(e, torch.float32, "cpu"))
    assert counts.tolist() == np.histogram(values.double().numpy(), bins=e)[0].tolist()
    assert stats.histogram(values, e).tolist() == counts.tolist()


@pytest.mark.parametrize("spec", [stats.linear_spec(-0.3, 0.7, 10), stats.linear_spec(0.0, 2.5),
                                  stats.symlog_spec(0.03), stats.symlog_spec(4e-7),
                                  # bins the float32 arithmetic cannot place (hypothesis found the first one)
                                  stats.linear_spec(0.0, 2 * 1.0661078716583208e-41), stats.symlog_spec(3e-40),
                                  stats.linear_spec(1e6, 1e6 + 1e-3), stats.linear_spec(-1e38, 1e38)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_bins_put_values_on_beside_and_beyond_every_edge_where_numpy_does(spec, dtype):
    e = stats.edges(spec)
    on = torch.tensor(e, dtype=dtype)
    values = torch.cat([on, torch.nextafter(on, torch.full_like(on, np.inf)),
                        torch.nextafter(on, torch.full_like(on, -np.inf)), torch.zeros(3, dtype=dtype),
                        torch.randn(4000, generator=torch.Generator().manual_seed(0), dtype=dtype) * float(e[-1]),
                        torch.tensor([1e30, -1e30, 1e-30, -1e-30], dtype=dtype)])
    values = values[torch.isfinite(values)]  # finite ones: ±1e38 × randn overflows float32
    counts = stats.Bins(spec, dtype, "cpu").counts(values)
    assert counts.tolist() == np.histogram(np.clip(values.double().numpy(), e[0], e[-1]), bins=e)[0].tolist()


@pytest.mark.parametrize("largest", [1e-6, 0.003, 0.1, 2.0, 50.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_gradients_usual_log_bins_are_placed_by_arithmetic_and_agree_with_numpy(largest, dtype):
    """The fast path is the one taken for ordinary gradients (8 decades below their largest |g|): their narrow
    bins near 0 once sent every gradient histogram of a record to torch.bucketize, several times slower."""
    spec = stats.symlog_spec(largest)
    bins = stats.Bins(spec, dtype, "cpu")
    assert not bins.exact
    e = stats.edges(spec)
    on = torch.tensor(e, dtype=dtype)
    values = torch.cat([on, torch.nextafter(on, torch.full_like(on, np.inf)),
                        torch.nextafter(on, torch.full_like(on, -np.inf)), torch.zeros(2, dtype=dtype),
                        torch.randn(3000, generator=torch.Generator().manual_seed(1), dtype=dtype) * largest,
                        torch.randn(3000, generator=torch.Generator().manual_seed(2), dtype=dtype) * largest * 1e-7])
    want = np.histogram(np.clip(values.double().numpy(), e[0], e[-1]), bins=e)[0]
    assert bins.counts(values).tolist() == want.tolist()
