"""The batch dispatcher: workers keep to the architectures they hold; nothing is lost."""

import collections

import pytest

from keras_iml.zoo.batch.dispatch import Dispatcher, architecture_hints


def _drain(dispatcher, order):
    """Hands out names to workers in the given repeating order until None for all."""
    taken, finished = [], set()
    while len(finished) < len(set(order)):
        for worker in order:
            if worker in finished:
                continue
            name = dispatcher.next_for(worker)
            if name is None:
                finished.add(worker)
            else:
                taken.append((worker, name))
    return taken


def test_every_name_once_and_each_group_mostly_with_one_worker():
    names = [f"{g}{i}" for i in range(12) for g in "ABC"]  # interleaved groups
    hints = {n: n[0] for n in names}
    taken = _drain(Dispatcher(names, hints), [0, 1])
    assert sorted(n for _, n in taken) == sorted(names)
    holders = collections.defaultdict(set)
    for worker, name in taken:
        holders[hints[name]].add(worker)
    # 3 groups for 2 workers: at most one group is shared (the one finished together)
    assert sum(len(w) for w in holders.values()) <= 4
    # a shared queue would have given both workers every group: 6 warm-ups
    # within a group the caller's order is kept
    for g in "ABC":
        assert [n for _, n in taken if n[0] == g] == [f"{g}{i}" for i in range(12)]


def test_largest_free_group_first_and_no_idle_worker_while_names_remain():
    names = ["a1", "a2", "a3", "a4", "b1"]
    d = Dispatcher(names, {"a1": "A", "a2": "A", "a3": "A", "a4": "A", "b1": "B"})
    assert d.next_for(0) == "a1"  # A is the largest group
    assert d.next_for(1) == "b1"  # the free group
    assert d.next_for(1) == "a2"  # B is done: worker 1 helps with A
    assert len(d) == 2
    assert [d.next_for(0), d.next_for(0), d.next_for(0), d.next_for(1)] == ["a3", "a4", None, None]


def test_hints_come_from_the_catalogue_variant():
    pytest.importorskip("pandas")
    from keras_iml.zoo import list_models

    table = list_models(family="DeepBind", type="TF")
    names = table["name"].tolist()[:50] + ["not/in/the/catalogue"]
    hints = architecture_hints(names)
    assert hints["not/in/the/catalogue"] == "not/in/the/catalogue"
    for row in table.head(50).itertuples():
        assert hints[row.name] == ("DeepBind", row.variant)
    assert len(set(hints.values())) < 20
