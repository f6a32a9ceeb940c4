"""`Dispatcher`: which model a batch worker validates next.

A worker traces and compiles every attribution method once per architecture it meets
(about ten seconds on 2 cores, where a DeepBind model then validates in about five).
Fed from one shared queue, every worker meets every architecture: 13 DeepBind
variants cost two workers 26 warm-ups. The dispatcher hands each worker models of
the architectures it already holds, gives it a new architecture (the largest one
nobody holds) only when its own are done, and at the end lets an idle worker help
with the largest group left, so no worker idles while models remain. The order only
changes which process validates a model, never its result.
"""

import collections

from keras_iml.zoo.catalogue import read_catalogue

__all__ = ["Dispatcher", "architecture_hints"]


def architecture_hints(names, path=None):
    """``name -> hint``: models with equal hints are expected to share an architecture.

    From the catalogue's ``family`` and ``variant`` columns (e.g. ``("DeepBind", "rc=1;
    avg=0;hidden=0;m=20")``); a name outside the catalogue is its own group.
    """
    try:
        table = read_catalogue(path)
    except (OSError, ValueError):
        return {name: name for name in names}
    variant = dict(zip(table["name"], zip(table["family"].astype(str), table["variant"].astype(str))))
    return {name: variant.get(name, name) for name in names}


class Dispatcher:
    """Hands out model names by architecture group.

    Args:
        names: the models to validate, in the caller's order (kept within a group).
        hints: dict name -> architecture hint (see :func:`architecture_hints`);
            missing names are their own group.

    Example:
        >>> d = Dispatcher(["a1", "b1", "a2"], {"a1": "A", "a2": "A", "b1": "B"})
        >>> d.next_for(0), d.next_for(1), d.next_for(0), d.next_for(1)
        ('a1', 'b1', 'a2', None)
    """

    def __init__(self, names, hints):
        self._groups = {}
        for name in names:
            self._groups.setdefault(hints.get(name, name), collections.deque()).append(name)
        self._held = collections.defaultdict(list)  # worker -> hints in the order taken
        self._holders = collections.defaultdict(set)  # hint -> workers

    def __len__(self):
        return sum(len(q) for q in self._groups.values())

    def next_for(self, worker):
        """The next name for ``worker``, or None when every name has been handed out."""
        for hint in self._held[worker]:
            if self._groups[hint]:
                return self._take(worker, hint)
        left = [h for h, q in self._groups.items() if q]
        if not left:
            return None
        free = [h for h in left if not self._holders[h]]
        hint = max(free or left, key=lambda h: len(self._groups[h]))  # first of equals
        return self._take(worker, hint)

    def _take(self, worker, hint):
        if worker not in self._holders[hint]:
            self._holders[hint].add(worker)
            self._held[worker].append(hint)
        return self._groups[hint].popleft()
