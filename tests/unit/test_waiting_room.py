"""The durable queue's order: FIFO per user, users in turn, per account."""

from __future__ import annotations

from mjapi.engine.waiting import WaitingRoom


def drain(room: WaitingRoom, channel: str) -> list[str]:
    taken = []
    while (jobid := room.next(channel)) is not None:
        taken.append(jobid)
    return taken


def test_one_users_jobs_come_out_in_arrival_order() -> None:
    room = WaitingRoom()
    for jobid in ("a1", "a2", "a3"):
        room.add("ch", 1, jobid)
    assert drain(room, "ch") == ["a1", "a2", "a3"]
    assert len(room) == 0 and room.channels() == []


def test_users_take_turns_so_a_big_backlog_cannot_starve_a_small_one() -> None:
    room = WaitingRoom()
    for n in range(1, 5):
        room.add("ch", 1, f"a{n}")
    room.add("ch", 2, "b1")
    room.add("ch", 3, "c1")
    assert drain(room, "ch") == ["a1", "b1", "c1", "a2", "a3", "a4"]


def test_each_account_has_its_own_queue() -> None:
    room = WaitingRoom()
    room.add("ch1", 1, "x")
    room.add("ch2", 1, "y")
    assert room.next("ch2") == "y"
    assert room.next("ch2") is None
    assert room.length("ch1") == 1 and room.waiting(1) == 1


def test_removed_jobs_never_come_out_and_counts_follow() -> None:
    room = WaitingRoom()
    room.add("ch", 1, "a1")
    room.add("ch", 1, "a2")
    assert room.remove("a1") and not room.remove("a1")
    assert room.waiting(1) == 1 and room.holds("a2") and not room.holds("a1")
    assert drain(room, "ch") == ["a2"]
    assert room.waiting(1) == 0


def test_a_reserved_place_counts_before_the_job_joins() -> None:
    room = WaitingRoom()
    room.reserve("ch", 1)
    assert room.length("ch") == 1 and room.waiting(1) == 1
    assert len(room) == 0 and room.next("ch") is None  # nothing to dispatch yet
    room.add("ch", 1, "a1", reserved=True)
    assert room.length("ch") == 1 and room.waiting(1) == 1 and len(room) == 1
    assert drain(room, "ch") == ["a1"]
    assert room.length("ch") == 0 and room.waiting(1) == 0


def test_a_released_reservation_counts_no_more() -> None:
    room = WaitingRoom()
    room.reserve("ch", 1)
    room.reserve("ch", 1)
    room.release("ch", 1)
    assert room.length("ch") == 1 and room.waiting(1) == 1
    room.release("ch", 1)
    assert room.length("ch") == 0 and room.waiting(1) == 0
    room.add("ch", 1, "a1")  # not reserved: takes no reservation away
    assert room.length("ch") == 1
