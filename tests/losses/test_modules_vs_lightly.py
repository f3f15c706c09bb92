"""The loss modules against lightly's own modules (``lightly.loss``), in float64, to 1e-10.

Skipped where lightly is absent (it is in the ``bench`` extra). lightly's modules make some
tensors with the default dtype (DINO's centre and temperature schedule, the memory bank), so
these tests run with float64 as the default dtype. Settings away from both libraries'
defaults are used where they differ, so that a default cannot hide a mismatch.
"""

from __future__ import annotations

import pytest
import torch

from selfsup import losses

lightly_loss = pytest.importorskip("lightly.loss", reason="lightly is in the bench extra")

TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(autouse=True)
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _pair(batch: int = 32, dim: int = 24, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    z_b = z_a + 0.5 * torch.randn(batch, dim, generator=g, dtype=torch.float64)
    z_a[:, 0] *= 30  # one dominant dimension
    return z_a.requires_grad_(), z_b.requires_grad_()


def _value_and_grads(loss, *tensors):
    value = loss(*tensors)
    wrt = [t for t in tensors if t.requires_grad]
    grads = torch.autograd.grad(value, wrt, allow_unused=True, materialize_grads=True)
    return value.detach(), grads


def _assert_same(ours, theirs):
    (v_ours, g_ours), (v_theirs, g_theirs) = ours, theirs
    torch.testing.assert_close(v_ours, v_theirs, **TOL)
    for a, b in zip(g_ours, g_theirs, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_vicreg_loss_is_lightlys():
    z = _pair()
    ours = losses.VICRegLoss(sim_coeff=10.0, std_coeff=15.0, cov_coeff=2.0, eps=1e-3)
    theirs = lightly_loss.VICRegLoss(lambda_param=10.0, mu_param=15.0, nu_param=2.0, eps=1e-3)
    _assert_same(_value_and_grads(ours, *z), _value_and_grads(theirs, *z))


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_ntxent_loss_is_lightlys(temperature):
    z = _pair()
    assert losses.InfoNCELoss is losses.NTXentLoss
    ours = losses.NTXentLoss(temperature=temperature)
    theirs = lightly_loss.NTXentLoss(temperature=temperature)
    _assert_same(_value_and_grads(ours, *z), _value_and_grads(theirs, *z))


def test_barlow_twins_loss_is_lightlys():
    z = _pair()
    ours = losses.BarlowTwinsLoss(lambd=2e-2)
    theirs = lightly_loss.BarlowTwinsLoss(lambda_param=2e-2)
    _assert_same(_value_and_grads(ours, *z), _value_and_grads(theirs, *z))


def test_byol_and_simsiam_losses_are_lightlys_negative_cosine():
    p_a, p_b = _pair(seed=1)
    t_a, t_b = (t.detach() for t in _pair(seed=2))
    cosine = lightly_loss.NegativeCosineSimilarity()

    def byol_lightly(p_a, p_b, t_a, t_b):  # 2 - 2 cos per direction, the two averaged
        return 2 + cosine(p_a, t_b) + cosine(p_b, t_a)

    def simsiam_lightly(p_a, p_b, z_a, z_b):  # the SimSiam paper's 0.5 D(p1, z2) + 0.5 D(p2, z1)
        return 0.5 * cosine(p_a, z_b.detach()) + 0.5 * cosine(p_b, z_a.detach())

    inputs = (p_a, p_b, t_a, t_b)
    _assert_same(
        _value_and_grads(losses.BYOLLoss(), *inputs), _value_and_grads(byol_lightly, *inputs)
    )
    z_a, z_b = (t.detach().requires_grad_() for t in (t_a, t_b))
    inputs = (p_a, p_b, z_a, z_b)
    ours = _value_and_grads(losses.SimSiamLoss(), *inputs)
    _assert_same(ours, _value_and_grads(simsiam_lightly, *inputs))
    assert all(g.abs().sum() == 0 for g in ours[1][2:])  # the stop-gradient on z


def _dino_scores(step: int, crops: int, batch: int = 6, k: int = 20):
    g = torch.Generator().manual_seed(100 + step)
    scores = 3 * torch.randn(crops, batch, k, generator=g, dtype=torch.float64)
    return scores + torch.linspace(-2, 2, k)  # a drift the centre has to follow


@pytest.mark.parametrize("warmup_epochs", [0, 3])
def test_dino_loss_over_several_steps_is_lightlys(warmup_epochs):
    settings = dict(student_temperature=0.2, teacher_temperature=0.07, center_momentum=0.8)
    ours = losses.DINOLoss(
        20,
        warmup_teacher_temperature=0.03,
        warmup_teacher_temperature_epochs=warmup_epochs,
        **settings,
    )
    theirs = lightly_loss.DINOLoss(
        output_dim=20,
        warmup_teacher_temp=0.03,
        teacher_temp=0.07,
        warmup_teacher_temp_epochs=warmup_epochs,
        student_temp=0.2,
        center_momentum=0.8,
    )
    for step in range(6):
        epoch = step  # one step per epoch: the warm-up schedule moves every step
        teacher = _dino_scores(step, 2)
        student = _dino_scores(step + 50, 5).requires_grad_()
        value = ours(student, teacher, epoch=epoch)
        (grad,) = torch.autograd.grad(value, student)
        student_list = list(student.unbind(0))
        expected = theirs(list(teacher.unbind(0)), student_list, epoch=epoch)
        (expected_grad,) = torch.autograd.grad(expected, student)
        torch.testing.assert_close(value, expected, **TOL)
        torch.testing.assert_close(grad, expected_grad, **TOL)
        torch.testing.assert_close(ours.center, theirs.center.reshape(-1), **TOL)
    assert ours.center.abs().max() > 0.1  # the centre did move


def test_dino_loss_takes_lists_and_terms_leave_the_centre():
    loss = losses.DINOLoss(20)
    teacher, student = _dino_scores(0, 2), _dino_scores(1, 4)
    before = loss.terms(list(student.unbind(0)), list(teacher.unbind(0)))
    assert torch.equal(loss.center, torch.zeros(20))
    assert torch.equal(before.loss, loss(student, teacher))
    expected = 0.1 * teacher.mean(dim=(0, 1))  # momentum 0.9 from zero
    torch.testing.assert_close(loss.center, expected, **TOL)


@pytest.mark.parametrize("symmetric_fill", [False, True])
def test_moco_loss_with_the_same_queue_is_lightlys_memory_bank(symmetric_fill):
    dim, size, batch = 16, 48, 8  # the queue a multiple of the batch: lightly's bank drops
    ours = losses.MoCoLoss(dim, queue_size=size, temperature=0.3)  # what would wrap around
    theirs = lightly_loss.NTXentLoss(temperature=0.3, memory_bank_size=(size, dim))
    g = torch.Generator().manual_seed(3)
    queue = torch.nn.functional.normalize(torch.randn(size, dim, generator=g), dim=1)
    ours.queue.copy_(queue)
    theirs.memory_bank.bank = queue.clone()  # lightly's bank is (size, dim) rows of keys
    theirs.memory_bank.bank_ptr.zero_()
    if symmetric_fill:  # fill both through their own enqueue first
        for _ in range(size // batch):
            keys = torch.nn.functional.normalize(torch.randn(batch, dim, generator=g), dim=1)
            ours.enqueue(keys)
            theirs.memory_bank._dequeue_and_enqueue(keys)
        torch.testing.assert_close(ours.queue, theirs.memory_bank.bank, rtol=0, atol=0)
    for _step in range(2 * size // batch + 1):  # around the ring twice
        query = torch.randn(batch, dim, generator=g).requires_grad_()
        key = torch.randn(batch, dim, generator=g)
        value = ours(query, key)
        (grad,) = torch.autograd.grad(value, query)
        expected = theirs(query, key)
        (expected_grad,) = torch.autograd.grad(expected, query)
        torch.testing.assert_close(value, expected, **TOL)
        torch.testing.assert_close(grad, expected_grad, **TOL)
        torch.testing.assert_close(ours.queue, theirs.memory_bank.bank, **TOL)
        assert int(ours.queue_pointer) == int(theirs.memory_bank.bank_ptr)
