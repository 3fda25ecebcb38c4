"""The batcher without HTTP: rows stepped together give each sample's text alone, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from charlstm.config import ModelConfig
from charlstm.options import SampleOptions
from charlstm.sampler.network import Network, Stepper
from charlstm.sampler.sampling import SampleRequest, Uniforms, sample_steps

pytest.importorskip("starlette", reason="the serve extra: pip install -e '.[serve]'")

from charlstm.serve.batcher import Batcher, Job, Piece  # noqa: E402
from charlstm.serve.run import is_loopback  # noqa: E402

CHARS = "abcdefghijk"  # the random networks' vocabulary
GATES = {"lstm": 4, "peephole": 4, "cifg": 3, "gru": 3, "rnn": 1}


def _any_cell_net(cell: str, units: int = 96, layers: int = 2, recurrent: float = 0.6) -> Network:
    """A random network of any cell, from named arrays (weights large enough that every gate matters).

    `recurrent`: the recurrent kernels' spread; at 0.6 the state is chaotic (a last-bit difference grows).
    """
    rng, g, vocab = np.random.default_rng(1), GATES[cell], len(CHARS)
    w = {"embedding/embeddings": rng.normal(0, 1, (vocab, 5))}
    w |= {"softmax/kernel": rng.normal(0, 1.5, (units, vocab)), "softmax/bias": rng.normal(0, 0.5, vocab)}
    for i in range(1, layers + 1):
        w[f"rnn_{i}/kernel"] = rng.normal(0, 0.6, (5 if i == 1 else units, g * units))
        w[f"rnn_{i}/recurrent_kernel"] = rng.normal(0, recurrent, (units, g * units))
        w[f"rnn_{i}/bias"] = rng.normal(0, 0.3, (2, g * units) if cell == "gru" else g * units)
        w |= {f"rnn_{i}/peephole_{k}": rng.normal(0, 0.3, units) for k in "ifo" if cell == "peephole"}
    return Network(w, ModelConfig(vocab_size=vocab, cell=cell, layers=layers, units=units, embedding_dim=5))


@pytest.mark.parametrize("cell", sorted(GATES))
def test_stacked_rows_step_bit_identical_to_each_row_alone(cell):
    """(rows, 1, units) state: each row's logits are the 1-row Stepper's (what `generate` runs), bit for bit.

    With 96 units OpenBLAS's matrix-matrix product differs from the matrix-vector one in
    the last bits for most rows, so a (rows, units) batch would fail this.
    """
    net = _any_cell_net(cell)
    rows, steps = 7, 40
    ids = np.random.default_rng(3).integers(0, len(CHARS), size=(rows, steps))
    state = [tuple(a[:, None, :] for a in s) for s in net.zero_state(rows)]
    alone = [Stepper(net, net.zero_state(1)) for _ in range(rows)]
    for t in range(steps):
        logits, state = net.step(ids[:, t, None], state)  # (rows, 1, vocab)
        for r in range(rows):
            np.testing.assert_array_equal(logits[r, 0], alone[r].step(ids[r, t : t + 1])[0])


def _job(prime, length, temperature, top_k, top_p, seed, index, stops=(), logprobs=None, **kw) -> Job:
    """A job of one sample, its request made as the server makes it."""
    opts = SampleOptions(length=length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    return Job(SampleRequest(opts, np.asarray(prime), stops=tuple(stops)).sample(index), logprobs, **kw)


def _alone(net, job: Job) -> str:
    """The job's text as `generate` makes it: its request run alone (one stop string at most here)."""
    assert len(job.request.stops) <= 1
    return "".join(p[0] for p in sample_steps(net, job.request, CHARS))


def _items(b: Batcher):
    return b._step().items()


def test_rows_joining_and_leaving_give_each_samples_text_alone():
    net = _any_cell_net("lstm", units=64)
    primes = [np.array(p) for p in ([1, 2, 3], [4], [5, 6, 7, 8, 9, 10, 0, 1], [2, 2])]
    jobs = [
        _job(primes[0], 60, 1.0, None, None, 7, 0),
        _job(primes[1], 30, 0.7, 4, None, 8, 2),
        _job(primes[2], 80, 1.2, None, 0.8, 9, 1, stops=("ab",)),
        _job(primes[3], 45, 0.0, None, None, 1, 0),
        _job(primes[0], 70, 1.0, None, None, 7, 1, stops=("c",)),
        _job(primes[2], 50, 1.5, 2, 0.9, 3, 0),
    ]
    texts, reasons = [""] * len(jobs), [None] * len(jobs)
    for k, j in enumerate(jobs):
        j.choice = k
    b = Batcher(net, CHARS, max_batch=3, max_queue=2, publish=None, exact=True)
    assert b.submit(jobs[:4]) and not b.submit(jobs[4:]) and b.submit(jobs[4:5])  # 3 + 2 places
    late = False
    for step in range(400):
        if step >= 10 and not late:
            late = b.submit(jobs[5:])  # accepted once a row has left
        b._regroup()
        assert len(b.rows) <= 3
        if not b.rows and not b.pending:
            break
        for job, piece in _items(b):
            texts[job.choice] += piece.text
            reasons[job.choice] = piece.finish_reason or reasons[job.choice]
    assert late
    for j, text, reason in zip(jobs, texts, reasons):
        assert text == _alone(net, j)
        assert reason == ("stop" if len(text) < j.request.options.length else "length")


def test_cancelled_rows_leave_at_the_next_step():
    net = _any_cell_net("lstm", units=12)
    jobs = [_job([1], 1000, 1.0, None, None, 0, k, choice=k) for k in range(3)]
    b = Batcher(net, CHARS, max_batch=3, max_queue=0, publish=None)
    assert b.submit(jobs)
    b._regroup()
    b._step()
    b.cancel([jobs[1]])
    b._regroup()
    assert [r.job for r in b.rows] == [jobs[0], jobs[2]] and b.state[0][0].shape == (2, 12)


@pytest.mark.parametrize(
    "host,loop", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("example.org", False)]
)
def test_loopback_hosts(host, loop):
    assert is_loopback(host) == loop


def _run(b: Batcher) -> dict[int, list]:
    """Step the batcher until every row has ended: per choice, its pieces as (text, finish_reason, generated)."""
    pieces: dict[int, list] = {}
    for _ in range(10_000):
        b._regroup()
        if not b.rows and not b.pending:
            return pieces
        for job, p in _items(b):
            pieces.setdefault(job.choice, []).append((p.text, p.finish_reason, p.generated))
    raise AssertionError("the rows did not end")


def test_uniform_blocks_running_out_mid_text_give_the_same_draws():
    """Blocks of 5 draws (the server's are 512), rows starting mid-block (primes of 1 to 7 characters), joining
    late (max_batch 3 of 5 jobs): each row refills from its own stream and still matches `generate`."""
    net = _any_cell_net("lstm", units=24)
    jobs = [
        _job(list(range(1, 2 + k + k % 2)), 23 + 4 * k, 1.0 + 0.1 * k, None, None, 11, k, choice=k) for k in range(5)
    ]
    b = Batcher(net, CHARS, max_batch=3, max_queue=2, publish=None, exact=True)
    b.draws = Uniforms(block=5)
    assert b.submit(jobs)
    texts = _run(b)
    for j in jobs:
        assert "".join(t for t, _, _ in texts[j.choice]) == _alone(net, j)


def test_plain_rows_pieces_equal_the_general_path():
    """A row with no stop and no logprobs takes the fast path; with a stop that never occurs it takes the
    general one (StopHold): the same pieces, finish reasons and counts."""
    net = _any_cell_net("lstm", units=24)
    never = "\x00"  # not a vocabulary character: never appears, never a partial match
    # choices 2 and 3: the streams of choices 0 and 1
    jobs = [_job([2, 3], 17, 0.9, 3, None, 4, k % 2, stops=() if k < 2 else (never,), choice=k) for k in range(4)]
    b = Batcher(net, CHARS, max_batch=4, max_queue=0, publish=None)
    assert b.submit(jobs)
    pieces = _run(b)
    assert pieces[0] == pieces[2] and pieces[1] == pieces[3]
    assert [p[1] for p in pieces[0]] == [None] * 16 + ["length"] and [p[2] for p in pieces[0]] == list(range(1, 18))


@pytest.mark.parametrize("usage", [False, True])
@pytest.mark.parametrize("name", ["best", 'a "quoted", "choices":null name', "modèle ✓"])
def test_event_line_template_equals_the_whole_dump(name, usage):
    """`Reply.event_line` (a template without logprobs) against `sse(Reply.event)`: the same bytes, event by event."""
    from charlstm.serve.reply import Reply, sse
    from charlstm.serve.schema import Completion

    def reply():
        jobs = [_job([1], 9, 1.0, None, None, 0, k) for k in range(3)]
        return Reply(Completion(["ab"] * 3, jobs, stream=True, include_usage=usage), name)

    fast, plain = reply(), reply()
    plain.id, plain.created = fast.id, fast.created  # fresh per reply: the twin takes the same
    pieces = [(0, Piece("a")), (2, Piece('"\\\n')), (1, Piece("é✓\u2028")), (2, Piece("", None, "stop", 4))]
    pieces += [(0, Piece("xy", [], "length", 9)), (1, Piece("")), (1, Piece("z", [], "length", 9))]
    for k, p in pieces:
        assert fast.event_line(k, p) == sse(plain.event(k, p))
    assert fast.finished() and fast.usage() == plain.usage()


def _mixed_jobs() -> list[Job]:
    primes = [np.array(p) for p in ([1, 2, 3], [4], [5, 6, 7, 8], [2, 2])]
    opts = [(1.0, None, None), (0.7, 4, None), (1.2, None, 0.8), (0.0, None, None), (1.0, None, None)]
    return [
        _job(primes[k % 4], 40 + 5 * k, *opts[k], 7, k, stops=("ab",) if k == 2 else (), logprobs=2 if k == 1 else None)
        for k in range(5)
    ]


def _lockstep(net: Network, exact: bool) -> tuple[dict, list]:
    """Step a batcher over `_mixed_jobs()` to the end: (per choice its text, each step's logits (rows, vocab))."""
    b = Batcher(net, CHARS, max_batch=5, max_queue=0, publish=None, exact=exact)
    jobs = _mixed_jobs()
    for k, j in enumerate(jobs):
        j.choice = k
    assert b.submit(jobs)
    texts, logits = dict.fromkeys(range(len(jobs)), ""), []
    for _ in range(1000):
        b._regroup()
        if not b.rows:
            return texts, logits
        for job, p in _items(b):
            texts[job.choice] += p.text
        logits.append(b.stepper.logits.reshape(len(b.rows), -1).copy())
        assert b.state[0][0].shape == ((len(b.rows), 1, 96) if exact else (len(b.rows), 96))
    raise AssertionError("the rows did not end")


def test_batched_default_is_deterministic_and_close_to_the_exact_one():
    """exact=False (the default): (rows, units) state, one product for the batch. The same batch gives the same text;
    the logits are the exact path's to rtol 1e-5, and each row draws from its own stream (seed, index): its text is
    `generate`'s (a last-bit difference could tip a character only when a draw falls within ~1e-7 of a boundary:
    not at these few hundred draws)."""
    net = _any_cell_net("lstm", units=96, recurrent=0.1)  # not chaotic: the last-bit differences stay small
    fast, fast_logits = _lockstep(net, exact=False)
    exact, exact_logits = _lockstep(net, exact=True)
    assert _lockstep(net, exact=False)[0] == fast
    assert len(fast_logits) == len(exact_logits)
    for f, e in zip(fast_logits, exact_logits):
        assert f.shape == e.shape and np.allclose(f, e, rtol=1e-5, atol=1e-5)  # logits ~1-5
    for k, j in enumerate(_mixed_jobs()):
        assert fast[k] == exact[k] == _alone(net, j)
    assert len(set(fast.values())) == len(fast)  # five streams, five texts


def test_engine_messages_carry_every_steps_pieces():
    """Each step through the pipe's encoding (`engine.Messages`, the plain rows' keys only when they changed) and
    back (`Engine._pieces`): the same (job, Piece) items as the step itself, while rows join, end and leave."""
    import pickle

    from charlstm.serve.engine import Engine, Messages

    net = _any_cell_net("lstm", units=24)
    primes = [[1, 2, 3], [4], [5, 6, 7, 8, 9], [2, 2]]
    stops = {4: ("ab",)}  # one row takes the general path (its pieces go one by one)
    jobs = [_job(primes[k % 4], 15 + 7 * k, 1.0, None, None, 3, k, stops.get(k, ()), key=k) for k in range(6)]
    b = Batcher(net, CHARS, max_batch=4, max_queue=2, publish=None)
    assert b.submit(jobs)
    engine = Engine(None, CHARS, 4, 2, publish=None)
    engine.jobs = {j.key: j for j in jobs}
    encode, elided, steps = Messages(), 0, 0
    while True:
        b._regroup()
        if not b.rows and not b.pending:
            break
        if steps == 20:
            b.cancel([jobs[1]])  # the client went away: the engine forgets it, its row leaves
            del engine.jobs[1]
        step = b._step()
        msg = encode(step)
        elided += pickle.loads(msg)[0] is None
        want = [(j, p) for j, p in step.items() if j.key in engine.jobs]
        assert engine._pieces(pickle.loads(msg)) == want
        steps += 1
    assert not engine.jobs and steps > 60 and 0.5 * steps < elided < steps
