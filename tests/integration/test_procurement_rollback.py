"""Changes of a procedure whose batch fails leave nothing behind: a question is not listed
and its number is given again, an answer is not shown, an amendment changes neither the
document nor its attached files (the next one numbers its files as if it never was), an
offer's revision leaves the offer's details as they were; what was committed comes back
after a restart."""
import base64

import procutil as pu
from procutil import get

FAIL_SQL = """
CREATE FUNCTION test_fail_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.body::jsonb->>'text' = 'boom' OR NEW.body::jsonb->>'reason' = 'boom' OR
            NEW.body::jsonb->>'comment' = 'boom' THEN
        RAISE EXCEPTION 'test: refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fail_boom BEFORE INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION test_fail_boom();
"""


def questions(client, pid):
    return [(q["id"], q["text"], q["answer"], q["answered_at"] is not None)
            for q in get(client, pid)["questions"]]


def test_failed_batches_leave_no_question_or_answer(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    supplier = server.connect("supplier1")
    spec = {"name": "spec.txt", "media_type": "text/plain",
            "content": base64.b64encode(b"spec").decode()}
    p = pu.create(buyer, "rfq", "Rolled back " + unique, enquiry=60000,
                  deadline=70000, opening=70000, documents=[spec])
    pid = p["id"]
    q = pu.create(buyer, "rfq", "Rolled back offers " + unique, deadline=60000, opening=60000)
    pu.wait_tendering(buyer, q)
    supplier.ok("quote.submit", procurement=q["id"], lot=1, price="900.00", comment="first",
                validity_days=10)
    amend = {k: p[k] for k in ("title", "enquiry_end", "submission_deadline", "opening_at",
                               "min_bids")}
    amend["lots"] = [pu.lot()]
    amend["documents"] = [dict(spec, name="addendum.txt")]
    assert supplier.ok("question.ask", procurement=pid, text="first")["question"] == 1
    env.psql(FAIL_SQL, user="postgres")
    try:
        e = supplier.error("question.ask", procurement=pid, text="boom")
        assert e["code"] == "internal", e
        assert questions(supplier, pid) == [(1, "first", None, False)]
        e = buyer.error("question.answer", procurement=pid, question=1, text="boom")
        assert e["code"] == "internal", e
        assert questions(buyer, pid) == [(1, "first", None, False)]
        e = buyer.error("procurement.amend", procurement=pid, reason="boom",
                        description="changed", **amend)
        assert e["code"] == "internal", e
        v = get(buyer, pid)
        assert (v["version"], v["description"]) == (1, p["description"]), v
        assert [d["name"] for d in v["documents"]] == ["spec.txt"], v
        e = supplier.error("quote.submit", procurement=q["id"], lot=1, price="800.00",
                           comment="boom", delivery_days=5)
        assert e["code"] == "internal", e
        mine = get(supplier, q["id"])["your_offers"]
        assert [(o["revision"], o["price"], o["comment"], o["validity_days"], "delivery_days" in o)
                for o in mine] == [(1, "900.00", "first", 10, False)], mine
    finally:
        env.psql("DROP TRIGGER test_fail_boom ON changes; "
                 "DROP FUNCTION test_fail_boom()", user="postgres")
    assert supplier.ok("question.ask", procurement=pid, text="second")["question"] == 2
    buyer.ok("question.answer", procurement=pid, question=1, text="an answer")
    v = buyer.ok("procurement.amend", procurement=pid, reason="addendum", description="new",
                 **amend)["procurement"]
    assert [(d["id"], d["name"]) for d in v["documents"]] == [
        (1, "spec.txt"), (2, "addendum.txt")], v
    assert supplier.ok("document.get", procurement=pid, document=2)["document"]["content"] == \
        spec["content"]
    want = [(1, "first", "an answer", True), (2, "second", None, False)]
    assert questions(supplier, pid) == want
    before = get(buyer, pid)
    before.pop("server_time")
    server.close_clients()
    server.stop()
    server.start()
    buyer = server.connect("buyer")
    supplier = server.connect("supplier1")
    after = get(buyer, pid)
    after.pop("server_time")
    assert after == before
    mine = get(supplier, q["id"])["your_offers"]
    assert [(o["revision"], o["comment"]) for o in mine] == [(1, "first")], mine
    buyer.ok("procurement.cancel", procurement=pid, reason="test over")
    buyer.ok("procurement.cancel", procurement=q["id"], reason="test over")
