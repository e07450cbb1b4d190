"""What happens to the house rules, told to whoever listens (blinker signals), as the cases'
events do. Domains above the house rules subscribe when they are imported; the house rules
never import them. Sent inside the operation's transaction."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A version was put in force (sender: the version; ``previous``: the version it superseded, or
#: None). The signals domain erases the identities kept so far when the new version says they are
#: not kept (data minimisation, issue 18).
rules_published = _signals.signal("house-rules-published")
