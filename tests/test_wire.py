"""The messages of store/wire.py keep the bytes screens and other tests read: kind first, the same field names
and order, the same JSON as the dicts they replaced."""
import orjson
import pytest

from store import wire

FRAME = {"room": "r1", "platform": "douyin", "updated": 1765000000.25,
         "metrics": {"gmv": 12.5, "watch_seconds": 1e21, "online": 3, "ctr": None, "windows": {"60": {"gmv": 1.0}}, "room": "r1"},
         "products": [{"sku": "s1", "name": "名字 <b>\u202e", "on_stage": True}], "product_count": 7,
         "series": [{"minute": 1765000000.0, "gmv": 12.5}], "comments": [{"ts": 1.5, "user": "u", "text": "hi\n"}]}


def test_frame_bytes_and_reading():
    blob = wire.encode(wire.Frame(**FRAME))
    assert blob == orjson.dumps({"kind": "frame", **FRAME})
    assert blob.startswith(b'{"kind":"frame","room":"r1"')   # what bench/push.py and the screens look for
    assert wire.read_frame(blob).metrics == FRAME["metrics"]
    assert wire.read_frame_dict(blob) == FRAME


def test_partial_snapshot_still_reads():
    f = wire.read_frame(b'{"room": "x", "metrics": {"as_of": 1.0}}')
    assert f.metrics == {"as_of": 1.0} and f.products == [] and f.updated is None


@pytest.mark.parametrize("built, literal", [
    (wire.hello(5.5), {"kind": "hello", "server_time": 5.5}),
    (wire.insight("r1", b'[{"id": "r1~a"}]', None),
     {"kind": "insight", "room": "r1", "suggestions": [{"id": "r1~a"}], "recommendations": []}),
    (wire.alerts([{"id": "a"}]), {"kind": "alerts", "alerts": [{"id": "a"}]}),
    (wire.alert({"id": "a", "room": "r1"}), {"kind": "alert", "alert": {"id": "a", "room": "r1"}}),
    (wire.SOURCE_DOWN, {"kind": "source", "ok": False}),
    (wire.SOURCE_UP, {"kind": "source", "ok": True}),
    (wire.RESYNC, {"kind": "resync"}),
])
def test_message_bytes(built, literal):
    assert (built.encode() if isinstance(built, str) else built) == orjson.dumps(literal)


def test_notice_room():
    assert wire.notice_room(wire.insight("r1", None, None)) == "r1"
    assert wire.notice_room(wire.alert({"id": "a", "room": "r2"})) == "r2"
    assert wire.notice_room(wire.alert({"id": "a"})) is None
