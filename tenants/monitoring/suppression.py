"""Small counts hidden so that nobody can be singled out, also by subtraction (issue 17, seed 003).

A figure is a *cube*: counts along a few dimensions (what is counted, when, where), each a
hierarchy of totals: the year is the sum of its quarters and a quarter of its months; the cell
is the sum of its municipalities; "all signals" is the sum of the channels and, separately, of
the kinds of reporting organisation. Every published number is one cell of the cube, and every
total gives a *relation*: the parent equals the sum of its children.

Hiding is done once, on the whole cube, before anyone's view is cut out of it, so that what two
readers see together (a mayor their municipality and the cell's total, the coordinator every
municipality) hides the same cells.

1. **Primary suppression**: a count from 0 to ``threshold - 1`` is shown as "< 5".
2. **Secondary (complementary) suppression**: in every relation, a hidden cell must not be the
   only one (else the parent minus the visible children gives it), and unless the parent is
   hidden too, small children need a hidden sibling that is not small: with only small counts
   hidden under a shown total, the total forces them up (4 + 4 under a total that leaves 8). The
   smallest visible non-zero sibling is hidden, or the parent when none can be; until every
   relation holds.
3. **Audit**: :func:`audit` then solves every relation at once as an adversary would (linear
   programming): it knows every shown value, every relation, that "< 5" means 0 to 4 and that a
   hidden number that is not "< 5" is at least 5. A small count (other than zero) whose smallest
   and largest possible values coincide is worked out; one more number is hidden around it and
   the audit runs again, until none is. Relation rules alone leave some (the tests and
   ``benchmarks/figures_suppression.py`` show it); the audited result leaves none.

Zero is hidden as well: "< 5" must not tell "nobody" from "one person".
"""

from __future__ import annotations

import enum
import itertools
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

THRESHOLD = 5
# Cubes hidden already, by their shape and counts: the same figures read again (another reader,
# the next page) are not solved again. Counts only, no more than the figures themselves.
_DONE: OrderedDict = OrderedDict()
_DONE_MAX = 512

Node = Hashable
Coordinate = tuple[Node, ...]


class Hidden(enum.StrEnum):
    SMALL = "small"  # primary: 1 to threshold - 1, shown as "< 5"
    COMPLEMENT = "complement"  # secondary: hidden so that a small count cannot be worked out


@dataclass
class Dimension:
    """A hierarchy of totals: each node with its partitions (lists of children summing to it).

    A node may have several partitions (all signals = sum by channel = sum by kind of reporter);
    nodes without a partition are leaves, where facts are counted.
    """

    name: str
    root: Node
    partitions: dict[Node, list[list[Node]]] = field(default_factory=dict)

    def add(self, parent: Node, children: Sequence[Node]) -> None:
        if children:
            self.partitions.setdefault(parent, []).append(list(children))

    @property
    def nodes(self) -> list[Node]:
        seen: dict[Node, None] = {self.root: None}
        for parent, partitions in self.partitions.items():
            seen.setdefault(parent, None)
            for children in partitions:
                for child in children:
                    seen.setdefault(child, None)
        return list(seen)

    def leaves_under(self, node: Node, partition: int = 0) -> list[Node]:
        """The leaves ``node`` sums, through the ``partition``-th partition at every level."""
        partitions = self.partitions.get(node)
        if not partitions:
            return [node]
        chosen = partitions[min(partition, len(partitions) - 1)]
        return [leaf for child in chosen for leaf in self.leaves_under(child, partition)]


@dataclass
class Cube:
    """Counts over dimensions; ``values`` holds every node combination, totals included."""

    dimensions: list[Dimension]
    values: dict[Coordinate, int]
    hidden: dict[Coordinate, Hidden] = field(default_factory=dict)
    threshold: int = THRESHOLD

    @classmethod
    def from_facts(cls, dimensions: list[Dimension], facts: Mapping[tuple, int], *,
                   threshold: int = THRESHOLD) -> Cube:
        """Sum counted facts up every hierarchy. A fact's coordinate names, per dimension, a leaf,
        or a tuple of leaves, one per partition (a signal is under its channel *and* under its
        reporter's kind); every node above them counts the fact once."""
        cube = cls(dimensions, {}, threshold=threshold)
        for coordinate in itertools.product(*(d.nodes for d in dimensions)):
            cube.values[coordinate] = 0
        ancestors = [cube._ancestors(d) for d in dimensions]
        for coordinate, count in facts.items():
            if not count:
                continue
            reached = []
            for index, component in enumerate(coordinate):
                leaves = component if isinstance(component, tuple) else (component,)
                reached.append(list(dict.fromkeys(node for leaf in leaves for node in ancestors[index][leaf])))
            for combination in itertools.product(*reached):
                cube.values[combination] += count
        return cube

    @staticmethod
    def _ancestors(dimension: Dimension) -> dict[Node, list[Node]]:
        """Each node -> itself and every node above it (a node has one parent)."""
        parent_of: dict[Node, Node] = {}
        for parent, partitions in dimension.partitions.items():
            for children in partitions:
                for child in children:
                    parent_of[child] = parent
        found = {}
        for node in dimension.nodes:
            chain, current = [node], node
            while current in parent_of:
                current = parent_of[current]
                chain.append(current)
            found[node] = chain
        return found

    # -- relations --------------------------------------------------------------------------

    def relations(self) -> list[tuple[Coordinate, list[Coordinate]]]:
        """Every (parent, children) the published figures obey."""
        found = []
        for index, dimension in enumerate(self.dimensions):
            others = [d.nodes for j, d in enumerate(self.dimensions) if j != index]
            for parent, partitions in dimension.partitions.items():
                for children in partitions:
                    for rest in itertools.product(*others):
                        def at(node, rest=rest):
                            return (*rest[:index], node, *rest[index:])
                        found.append((at(parent), [at(child) for child in children]))
        return found

    # -- hiding -----------------------------------------------------------------------------

    def suppress(self, *, audited: bool = True) -> Cube:
        """Hide small counts and what would reveal them (see the module's docstring); then, unless
        ``audited`` is False, check as an adversary would (:func:`audit`) and hide more around
        every count still worked out, until none is."""
        key = self._fingerprint() if audited else None
        if key is not None and key in _DONE:
            _DONE.move_to_end(key)
            self.hidden = dict(_DONE[key])
            return self
        small = range(0, self.threshold)
        self.hidden = {coordinate: Hidden.SMALL for coordinate, value in self.values.items() if value in small}
        relations = self.relations()
        self._settle(relations)
        while audited:
            disclosed = audit(self)
            if not disclosed:
                break
            widened = [self._widen(cell, relations) for cell in disclosed]
            if not any(widened):
                # Nothing left to hide around them: show no number of this figure at all.
                for cell, value in self.values.items():
                    if cell not in self.hidden:
                        self.hidden[cell] = Hidden.SMALL if value < self.threshold else Hidden.COMPLEMENT
                break
            self._settle(relations)
        if key is not None:
            _DONE[key] = dict(self.hidden)
            while len(_DONE) > _DONE_MAX:
                _DONE.popitem(last=False)
        return self

    def _fingerprint(self) -> tuple:
        shape = tuple(
            (d.name, d.root, tuple(sorted((str(k), tuple(tuple(c) for c in v)) for k, v in d.partitions.items())))
            for d in self.dimensions
        )
        return (self.threshold, shape, tuple(sorted(((tuple(map(str, k)), v) for k, v in self.values.items() if v))))

    def _settle(self, relations) -> None:
        changed = True
        while changed:
            changed = False
            for parent, children in relations:
                if self._exposed(parent, children) and self._hide_one_more(parent, children):
                    changed = True

    def _widen(self, cell: Coordinate, relations) -> bool:
        """A small count was worked out: hide one more number in a relation it is part of (the
        smallest shown one), else every number shown around it."""
        around = [(parent, children) for parent, children in relations if cell == parent or cell in children]
        for parent, children in around:
            shown = [c for c in [*children, parent] if c not in self.hidden and self.values[c] > 0]
            if shown:
                chosen = min(shown, key=lambda c: (self.values[c] == self.threshold, self.values[c]))
                self.hidden[chosen] = Hidden.COMPLEMENT
                return True
        # Every number around it is hidden already: widen one step further out.
        for parent, children in around:
            for neighbour in [parent, *children]:
                if neighbour != cell:
                    for p2, c2 in relations:
                        if neighbour == p2 or neighbour in c2:
                            for c in [p2, *c2]:
                                if c not in self.hidden and self.values[c] > 0:
                                    self.hidden[c] = Hidden.COMPLEMENT
                                    return True
        return False

    def _exposed(self, parent: Coordinate, children: list[Coordinate]) -> bool:
        """Could a small count in this relation be bounded away from zero, or worked out?

        Unless the parent is hidden too, a relation with a small child needs a hidden
        child that is *not* small: with only small counts hidden beside a shown total, the total
        minus the shown children forces them up (1 + 1 under a total that leaves 2, or 4 + 4
        that leaves 8). A hidden parent with a single hidden child gives that child away too.
        """
        hidden = [cell for cell in [parent, *children] if cell in self.hidden]
        if not hidden:
            return False
        if len(hidden) == 1:
            return True
        if parent in self.hidden:
            return False
        small = [cell for cell in children if self.hidden.get(cell) == Hidden.SMALL]
        complement = [cell for cell in children if self.hidden.get(cell) == Hidden.COMPLEMENT]
        return bool(small) and not complement

    def _hide_one_more(self, parent: Coordinate, children: list[Coordinate]) -> bool:
        candidates = [cell for cell in children if cell not in self.hidden and self.values[cell] > 0]
        if candidates:
            # The smallest above the threshold loses least; prefer one that unpins (> threshold).
            cell = min(candidates, key=lambda c: (self.values[c] == self.threshold, self.values[c]))
        elif parent not in self.hidden:
            cell = parent
        else:
            return False
        self.hidden[cell] = Hidden.COMPLEMENT
        return True

    # -- reading ----------------------------------------------------------------------------

    def shown(self, coordinate: Coordinate) -> int | Hidden:
        return self.hidden.get(coordinate, self.values.get(coordinate, 0))


def audit(cube: Cube, *, coordinates: Iterable[Coordinate] | None = None) -> list[Coordinate]:
    """Small counts (other than zero) an adversary can work out exactly from what is shown.

    Linear programming (HiGHS, through ``highspy``) over every relation of the cube at once: each
    hidden cell is a variable bounded by what its mark says ("< 5": 0 to 4; hidden beside one:
    at least 5), each relation an equation over the shown values. A small count whose smallest
    and largest possible values coincide is disclosed. One model, solved again per objective.
    ``coordinates`` limits the check to the cells someone was shown (default all).
    """
    hidden = list(cube.hidden)
    if not hidden:
        return []
    column = {cell: i for i, cell in enumerate(hidden)}
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("solver", "ipm")
    infinity = highspy.kHighsInf
    lower = np.array([0.0 if cube.hidden[c] == Hidden.SMALL else float(cube.threshold) for c in hidden])
    upper = np.array([float(cube.threshold - 1) if cube.hidden[c] == Hidden.SMALL else infinity for c in hidden])
    solver.addVars(len(hidden), lower, upper)
    for parent, children in cube.relations():
        cells = [parent, *children]
        if not any(cell in column for cell in cells):
            continue
        coefficients: dict[int, float] = {}
        target = 0.0
        for sign, cell in [(1.0, parent), *((-1.0, child) for child in children)]:
            if cell in column:
                coefficients[column[cell]] = coefficients.get(column[cell], 0.0) + sign
            else:
                target -= sign * cube.values[cell]
        indices = np.array(list(coefficients), dtype=np.int32)
        values = np.array(list(coefficients.values()))
        solver.addRow(target, target, len(indices), indices, values)
    wanted = set(coordinates) if coordinates is not None else None
    candidates = [
        column[cell] for cell in hidden
        if cube.hidden[cell] == Hidden.SMALL and cube.values[cell] > 0 and (wanted is None or cell in wanted)
    ]
    if not candidates:
        return []
    # Two solutions that differ in a cell prove it is not pinned: a few objectives over all the
    # candidates at once settle most of them; each one left is then minimised and maximised.
    seen_low: dict[int, float] = {}
    seen_high: dict[int, float] = {}
    randomness = np.random.default_rng(len(hidden))
    costs = np.zeros(len(hidden))
    open_ = set(candidates)

    def solve(sense) -> np.ndarray | None:
        solver.changeObjectiveSense(sense)
        solver.changeColsCost(len(hidden), np.arange(len(hidden), dtype=np.int32), costs)
        solver.run()
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.array(solver.getSolution().col_value)

    for _round in range(8):
        if not open_:
            break
        costs[:] = 0.0
        costs[list(open_)] = randomness.uniform(0.5, 1.5, len(open_)) * randomness.choice([-1.0, 1.0], len(open_))
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            solution = solve(sense)
            if solution is None:
                continue
            for index in list(open_):
                value = solution[index]
                seen_low[index] = min(seen_low.get(index, value), value)
                seen_high[index] = max(seen_high.get(index, value), value)
                if seen_high[index] - seen_low[index] >= 0.5:
                    open_.discard(index)
    disclosed = []
    for index in sorted(open_):
        costs[:] = 0.0
        costs[index] = 1.0
        low, high = solve(highspy.ObjSense.kMinimize), solve(highspy.ObjSense.kMaximize)
        if low is not None and high is not None and high[index] - low[index] < 0.5:
            disclosed.append(hidden[index])
    return disclosed
