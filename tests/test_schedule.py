"""The learning-rate schedule: a pure function of step and progress."""

import math

import pytest

from charlstm.training.schedule import decay_factor, get_lr, progress, warmup_factor


def lr(step, where, schedule="linear", warmup=10, scale=1.0):
    return get_lr(step, where, peak=1e-2, schedule=schedule, warmup_steps=warmup, plateau_scale=scale)


def test_warmup_ramps_linearly_to_the_peak():
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    assert lr(0, 0.0) == pytest.approx(1e-3) and lr(9, 0.0) == pytest.approx(1e-2)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_budget_schedules_reach_zero_at_the_deadline_and_fall_monotonically(schedule):
    values = [lr(100, p / 100, schedule) for p in range(101)]
    assert values[0] == pytest.approx(1e-2)
    assert values[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert lr(100, 1.7, schedule) == pytest.approx(0.0, abs=1e-12)  # past the deadline: stays at zero


def test_linear_and_cosine_shapes():
    assert decay_factor("linear", 0.25) == pytest.approx(0.75)
    assert decay_factor("cosine", 0.5) == pytest.approx(0.5)
    assert decay_factor("cosine", 0.25) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def test_plateau_is_constant_but_for_its_scale():
    assert lr(500, 0.9, "plateau") == pytest.approx(1e-2)
    assert lr(500, 0.9, "plateau", scale=0.25) == pytest.approx(2.5e-3)


def test_progress_is_whichever_budget_runs_out_first():
    assert progress(50, 0.0, total_steps=100, budget_seconds=None) == 0.5
    assert progress(10, 30.0, total_steps=100, budget_seconds=60.0) == 0.5
    assert progress(90, 30.0, total_steps=100, budget_seconds=60.0) == 0.9
    assert progress(500, 0.0, total_steps=100, budget_seconds=None) == 1.0


def test_resume_continues_the_schedule():
    """The rate depends only on (step, elapsed) and the plan: a resumed run that is handed
    back its stored step and elapsed time gets exactly the uninterrupted run's rates."""

    def run(steps, start=0, elapsed0=0.0):
        out, elapsed = [], elapsed0
        for step in range(start, steps):
            where = progress(step, elapsed, total_steps=200, budget_seconds=100.0)
            out.append(lr(step, where))
            elapsed += 0.37
        return out, elapsed

    straight, _ = run(200)
    first, elapsed = run(80)
    rest, _ = run(200, start=80, elapsed0=elapsed)
    assert first + rest == straight


def judge(val, best, since=0, complete=True, past_warmup=True, patience=3):
    from charlstm.training.schedule import judge_epoch

    return judge_epoch(val, best, since, complete=complete, past_warmup=past_warmup, patience=patience)


def test_an_improvement_resets_patience():
    v = judge(2.0, 2.5, since=2)
    assert (v.improved, v.since_best, v.decay, v.stop) == (True, 0, False, False)
    assert judge(2.0, None).improved


def test_a_worse_complete_epoch_counts_and_decays_the_rate():
    v = judge(2.6, 2.5, since=1)
    assert (v.improved, v.since_best, v.decay, v.stop) == (False, 2, True, False)


def test_patience_runs_out_and_zero_means_never():
    assert judge(2.6, 2.5, since=2).stop is True
    assert judge(2.6, 2.5, since=99, patience=0).stop is False


def test_warmup_and_partial_epochs_never_count():
    for kw in ({"past_warmup": False}, {"complete": False}):
        v = judge(2.6, 2.5, since=2, **kw)
        assert (v.since_best, v.decay, v.stop) == (2, False, False)


def test_patience_compresses_the_decay_into_the_next_epochs():
    from charlstm.training.schedule import anneal_budget

    assert anneal_budget(60.0, 300.0, epoch_seconds=4.0) == 68.0
    assert anneal_budget(60.0, None, epoch_seconds=4.0) == 68.0  # epochs-only runs get a time budget
    assert anneal_budget(295.0, 300.0, epoch_seconds=4.0) is None  # less than that left: stop as before
    where = progress(0, 60.0, total_steps=10**9, budget_seconds=68.0)
    assert lr(500, where) == pytest.approx(1e-2 * (1 - 60 / 68))
