"""Drawing a case's subject: `Subjects` (a pool worked out once) draws what a pass over the labels draws."""

import random
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter

from simulation.domains import get_domain
from simulation.domains.base import Subjects


@dataclass(frozen=True)
class Label:
    customer: str
    kind: str
    verdict: str


def drawn_by_a_pass(labels, key, rng, used, *evenly):
    """The draw as it was written before `Subjects`: every label's key worked out at every draw."""
    fresh = [label for label in labels if key(label) not in used]
    for attribute in evenly:
        if not fresh:
            break
        value = rng.choice(sorted({attribute(label) for label in fresh}))
        fresh = [label for label in fresh if attribute(label) == value]
    return rng.choice(fresh) if fresh else None


def test_subjects_draw_what_a_pass_over_the_labels_draws():
    world = random.Random(7)
    for trial in range(40):
        labels = [
            Label(f"C-{world.randrange(60):03d}", world.choice("abc"), world.choice(["yes", "no", "maybe"]))
            for _ in range(world.randrange(0, 120))
        ]
        evenly = [attrgetter("kind"), attrgetter("verdict")][: trial % 3]
        subjects = Subjects(labels, attrgetter("customer"), *evenly)
        ours, theirs = random.Random(trial), random.Random(trial)
        used_ours, used_theirs = set(), set()
        for _ in range(70):  # until the pool runs dry, and beyond
            got, expected = (
                subjects.pick(ours, used_ours),
                drawn_by_a_pass(labels, attrgetter("customer"), theirs, used_theirs, *evenly),
            )
            assert got == expected
            if got is not None:
                used_ours.add(got.customer)
                used_theirs.add(expected.customer)
        assert ours.random() == theirs.random()  # the same random numbers were used


def test_a_kyc_world_draws_the_same_cases_however_often_it_is_asked():
    """The kyc domain keeps each conversation pool as `Subjects` for its world: a second draw of the same seed,
    after the pools were worked out, is the first."""
    domain = get_domain("kyc")
    world = domain.build_world(1)
    first = [case.model_dump() for case in islice(domain.iter_cases(world, 3, frozenset()), 150)]
    again = [case.model_dump() for case in islice(domain.iter_cases(world, 3, frozenset()), 150)]
    assert first == again and len({c["key"] for c in first}) == len(first)
