"""Rules of comments: the same text flooding the room, banned words, negative comments rising. Each reads the
comments since the last evaluation (records.Comments) and keeps its own window of them."""
from __future__ import annotations

import re
from collections import Counter, deque
from functools import lru_cache

from insights.rules.base import evict, short

_NOT_WORD = re.compile(r"[\W_]+")


def compact(text: str) -> str:
    """Lower case without spaces, punctuation or emoji: '加 微-信！' and '加微信' are the same comment."""
    return _NOT_WORD.sub("", text.lower())


@lru_cache(maxsize=64)
def _lexicon(terms: tuple) -> re.Pattern | None:
    # ASCII words match whole words of the raw text ("bad" is not in "badge"); CJK terms match anywhere
    parts = [rf"\b{re.escape(t.lower())}\b" if t.isascii() else re.escape(compact(t)) for t in terms if t]
    return re.compile("|".join(parts)) if parts else None


def find_term(text: str, terms, squeeze: bool) -> str | None:
    """The first term in text. squeeze: also across spaces and punctuation ('加 微 信'), for evasions."""
    pattern = _lexicon(tuple(terms or ()))
    if pattern is None:
        return None
    low = text.lower()
    m = pattern.search(low) or pattern.search(compact(low) if squeeze else _NOT_WORD.sub(" ", low))
    return m.group(0) if m else None


class Flood:
    """comment_flood's: the comments of its window by compact text."""

    def __init__(self):
        self.texts: deque = deque()   # (ts, compact text, user)
        self.users: dict = {}         # compact text -> Counter(user)
        self.shown: dict = {}         # compact text -> the text as written (latest)


def comment_flood(own: Flood, room, v, p: dict):
    fresh = Counter()
    for ts, user, text in room.comments.fresh:
        key = compact(text)
        if key:
            own.texts.append((ts, key, user))
            own.users.setdefault(key, Counter())[user] += 1
            own.shown[key] = text
            fresh[key] += 1

    def drop(item):
        _ts, key, user = item
        users = own.users[key]
        users[user] -= 1
        if users[user] <= 0:
            del users[user]
            if not users:
                del own.users[key], own.shown[key]
    evict(own.texts, v.now - p["window_s"], drop)
    flooding = [(sum(u.values()), len(u), key) for key, u in own.users.items()
                if len(u) >= p["min_users"] and sum(u.values()) >= p["min_repeats"]]
    if flooding:
        repeats, users, key = max(flooding)
        yield None, {"text": short(own.shown[key]), "repeats": repeats, "users": users,
                     "window_s": p["window_s"], "texts": len(flooding)}, sum(fresh[k] for _r, _u, k in flooding)


def banned_words(own: deque, room, v, p: dict):
    """`own`: the comments of its window with a term, (ts, user, term, text)."""
    fresh = 0
    for ts, user, text in room.comments.fresh:
        term = find_term(text, p["terms"], squeeze=True)
        if term is not None:
            own.append((ts, user, term, text))
            fresh += 1
    evict(own, v.now - p["window_s"])
    if own:
        _ts, user, term, text = own[-1]
        yield None, {"term": term, "user": user, "text": short(text), "hits": len(own),
                     "users": len({b[1] for b in own}), "window_s": p["window_s"]}, fresh


class Moods:
    """negative_comments's: (ts, negative?) per comment over its baseline, and their totals."""

    def __init__(self):
        self.moods: deque = deque()
        self.totals = [0, 0]          # comments, negative ones, in `moods`


def negative_comments(own: Moods, room, v, p: dict):
    totals = own.totals
    for ts, _user, text in room.comments.fresh:
        negative = find_term(text, p["terms"], squeeze=False) is not None
        own.moods.append((ts, negative))
        totals[0] += 1
        totals[1] += negative

    def drop(item):
        totals[0] -= 1
        totals[1] -= item[1]
    evict(own.moods, v.now - p["baseline_s"], drop)
    n = neg = 0
    for ts, negative in reversed(own.moods):
        if ts <= v.now - p["window_s"]:
            break
        n += 1
        neg += negative
    if n < p["min_comments"]:
        return
    share = neg / n
    before = totals[0] - n
    baseline = (totals[1] - neg) / before if before else 0.0
    if share >= p["min_share"] and share >= baseline + p["min_rise"]:
        yield None, {"share": share, "comments": n, "baseline": baseline, "window_s": p["window_s"]}, None
