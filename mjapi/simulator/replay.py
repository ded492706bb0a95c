"""What a gateway session was sent, kept so that a RESUME can replay it (reference §2.3). Pure."""

from __future__ import annotations

from collections import deque


class ReplayBuffer:
    """The last ``limit`` dispatches of one session, each as its JSON text with its ``s``.

    Frames are kept as text: what a replay sends is exactly what was first sent, whatever
    happened since to the dicts the bot built them from.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a replay buffer holds at least one dispatch")
        self._frames: deque[tuple[int, str]] = deque(maxlen=limit)
        #: ``s`` of the newest dispatch (0: none yet)
        self.last_seq = 0

    def append(self, seq: int, text: str) -> None:
        if seq != self.last_seq + 1:
            raise ValueError(f"dispatch {seq} after {self.last_seq}: sequence numbers must follow")
        self._frames.append((seq, text))
        self.last_seq = seq

    def after(self, seq: int) -> list[str] | None:
        """Every dispatch with ``s > seq``, oldest first; None if some were already forgotten.

        A ``seq`` the session never reached is as unusable as a forgotten one: None too.
        """
        if not 0 <= seq <= self.last_seq:
            return None
        oldest_kept = self._frames[0][0] if self._frames else self.last_seq + 1
        if seq + 1 < oldest_kept:
            return None
        return [text for number, text in self._frames if number > seq]
