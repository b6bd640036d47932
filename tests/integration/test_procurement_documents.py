"""Procurement documents: contents stored with the request, fetched over the protocol and
checked against their SHA-256; wrong hashes and oversized contents refused."""
import base64
import hashlib
import os

import pytest

import procutil as pu

MAX_DOCUMENT = 32 * 1024  # docs/protocol.md: content "at most 32 KiB"


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory()


def b64(data):
    return base64.b64encode(data).decode()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def create_req(pub, title, documents):
    return dict(kind="rfq", title=title, currency="RUB", enquiry_end=pub["enquiry_end"],
                submission_deadline=pub["submission_deadline"], opening_at=pub["opening_at"],
                lots=[pu.lot()], documents=documents)


def test_documents_round_trip_with_their_hash(env, server, unique):
    buyer = server.connect("buyer")
    supplier = server.connect("supplier2")
    spec = ("Technical specification " + unique + "\n").encode() * 40
    drawing = os.urandom(3000)
    described = sha(b"a file kept elsewhere")
    docs = [{"name": "spec.txt", "media_type": "text/plain", "content": b64(spec),
             "sha256": sha(spec)},
            {"name": "drawing.bin", "media_type": "application/octet-stream",
             "content": b64(drawing)},
            {"name": "plans.dwg", "media_type": "application/acad", "size": 123456,
             "sha256": described}]
    p = pu.create(buyer, "rfq", "Documents " + unique, enquiry=10000, deadline=20000,
                  opening=20000, publish=False, documents=docs)
    pid = p["id"]
    assert p["documents"] == [
        {"id": 1, "name": "spec.txt", "media_type": "text/plain", "size": len(spec),
         "sha256": sha(spec), "has_content": True},
        {"id": 2, "name": "drawing.bin", "media_type": "application/octet-stream",
         "size": len(drawing), "sha256": sha(drawing), "has_content": True},
        {"id": 3, "name": "plans.dwg", "media_type": "application/acad", "size": 123456,
         "sha256": described, "has_content": False}], p["documents"]

    # a draft's documents are the buyer's
    e = supplier.error("document.get", procurement=pid, document=1)
    assert e["code"] == "not_found", e
    buyer.ok("procurement.publish", procurement=pid)

    for c in (buyer, supplier):
        for n, data in ((1, spec), (2, drawing)):
            d = c.ok("document.get", procurement=pid, document=n)["document"]
            content = base64.b64decode(d["content"], validate=True)
            assert content == data, (n, len(content))
            assert hashlib.sha256(content).hexdigest() == d["sha256"] == sha(data), d
            assert d["size"] == len(data) and d["id"] == n, d
        d = c.ok("document.get", procurement=pid, document=3)["document"]
        assert d["content"] is None and d["sha256"] == described and d["size"] == 123456, d
    for bad in (4, 0):
        e = supplier.error("document.get", procurement=pid, document=bad)
        assert e["code"] in ("not_found", "bad_field"), (bad, e)
    e = supplier.error("document.get", procurement=pid)
    assert e["code"] == "missing_field", e

    # an amendment adds documents after the existing ones
    addendum = b"Addendum 1: delivery to the east wing " + unique.encode()
    v = buyer.ok("procurement.amend", procurement=pid, reason="Addendum",
                 **{k: v for k, v in create_req(p, p["title"], [
                     {"name": "addendum.txt", "media_type": "text/plain",
                      "content": b64(addendum), "sha256": sha(addendum)}]).items()
                    if k not in ("kind", "currency")})["procurement"]
    assert [(d["id"], d["name"]) for d in v["documents"]] == [
        (1, "spec.txt"), (2, "drawing.bin"), (3, "plans.dwg"), (4, "addendum.txt")], v
    d = supplier.ok("document.get", procurement=pid, document=4)["document"]
    assert base64.b64decode(d["content"]) == addendum and d["sha256"] == sha(addendum)
    rows = env.psql("SELECT id, sha256, encode(sha256(content), 'hex') FROM "
                    "procurement_documents WHERE procurement_id = %d ORDER BY id" % pid)
    assert rows == [["1", sha(spec), sha(spec)], ["2", sha(drawing), sha(drawing)],
                    ["3", described, ""], ["4", sha(addendum), sha(addendum)]], rows
    buyer.ok("procurement.cancel", procurement=pid, reason="test over")


def test_wrong_hash_and_bad_contents_are_refused(env, server, unique):
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Hash ref " + unique, publish=False)
    data = b"the real content " + unique.encode()
    cases = [
        ("wrong sha256", {"name": "a.txt", "media_type": "text/plain", "content": b64(data),
                          "sha256": sha(data + b"x")}),
        ("hash of other data", {"name": "a.txt", "media_type": "text/plain",
                                           "content": b64(data), "sha256": "0" * 64}),
        ("not base64", {"name": "a.txt", "media_type": "text/plain", "content": "%%%%"}),
        ("no media type", {"name": "a.txt", "content": b64(data)}),
        ("described without a hash", {"name": "a.txt", "media_type": "text/plain",
                                      "size": 10}),
        ("described with a short hash", {"name": "a.txt", "media_type": "text/plain",
                                         "size": 10, "sha256": "abc"}),
    ]
    for what, doc in cases:
        e = buyer.error("procurement.create", **create_req(p, "Bad doc " + unique, [doc]))
        assert (e["code"], e.get("field")) == ("bad_field", "documents"), (what, e)
    mine = [x for x in buyer.ok("procurement.list")["procurements"]
            if x["title"] == "Bad doc " + unique]
    assert mine == [], mine


def test_largest_document_is_accepted(env, server, unique):
    """A document of exactly the documented maximum (32 KiB) can be uploaded with the
    default settings; one byte more is refused with bad_field."""
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Size ref " + unique, publish=False)
    data = os.urandom(MAX_DOCUMENT)
    rid = buyer.send("procurement.create", **create_req(p, "Largest " + unique, [
        {"name": "max.bin", "media_type": "application/octet-stream", "content": b64(data),
         "sha256": sha(data)}]))
    r = buyer.read_msg(timeout=10)
    assert r.get("id") == rid and r.get("ok") is True, r
    d = buyer.ok("document.get", procurement=r["procurement"]["id"], document=1)["document"]
    assert base64.b64decode(d["content"]) == data and d["size"] == MAX_DOCUMENT


def test_document_above_the_maximum_is_refused(env, tenderd_factory, unique):
    server = tenderd_factory(max_line=200000)
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Size ref " + unique, publish=False)
    for size, ok in ((MAX_DOCUMENT, True), (MAX_DOCUMENT + 1, False)):
        data = os.urandom(size)
        r = buyer.request("procurement.create", **create_req(p, "Size %d %s" % (size, unique), [
            {"name": "x.bin", "media_type": "application/octet-stream", "content": b64(data)}]))
        if ok:
            assert r["ok"] is True, r
            assert r["procurement"]["documents"][0]["size"] == size
        else:
            assert r["ok"] is False and r["error"]["code"] == "bad_field", r
            assert r["error"].get("field") == "documents", r
