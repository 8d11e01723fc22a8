"""Following a store live: the follower loop, what it reports, and the protocol a backend
implements (see follower.py for how changes are found)."""

from .backend import FollowerBackend
from .changes import Shown, StoreChanges
from .follower import Follower, StoreFollower

__all__ = ["Follower", "FollowerBackend", "Shown", "StoreChanges", "StoreFollower"]
