"""Questions and answers when the batch that records them fails: nothing of it stays (the
question is not listed, its number is given again, the answer is not shown), and what was
committed comes back after a restart."""
import procutil as pu
from procutil import get

FAIL_SQL = """
CREATE FUNCTION test_fail_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.detail->>'text' = 'boom' THEN
        RAISE EXCEPTION 'test: refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fail_boom BEFORE INSERT ON procurement_log
    FOR EACH ROW EXECUTE FUNCTION test_fail_boom();
"""


def questions(client, pid):
    return [(q["id"], q["text"], q["answer"], q["answered_at"] is not None)
            for q in get(client, pid)["questions"]]


def test_failed_batches_leave_no_question_or_answer(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    supplier = server.connect("supplier1")
    p = pu.create(buyer, "rfq", "Questions rolled back " + unique, enquiry=60000,
                  deadline=70000, opening=70000)
    pid = p["id"]
    assert supplier.ok("question.ask", procurement=pid, text="first")["question"] == 1
    env.psql(FAIL_SQL, user="postgres")
    try:
        e = supplier.error("question.ask", procurement=pid, text="boom")
        assert e["code"] == "internal", e
        assert questions(supplier, pid) == [(1, "first", None, False)]
        e = buyer.error("question.answer", procurement=pid, question=1, text="boom")
        assert e["code"] == "internal", e
        assert questions(buyer, pid) == [(1, "first", None, False)]
    finally:
        env.psql("DROP TRIGGER test_fail_boom ON procurement_log; "
                 "DROP FUNCTION test_fail_boom()", user="postgres")
    assert supplier.ok("question.ask", procurement=pid, text="second")["question"] == 2
    buyer.ok("question.answer", procurement=pid, question=1, text="an answer")
    want = [(1, "first", "an answer", True), (2, "second", None, False)]
    assert questions(supplier, pid) == want
    before = get(buyer, pid)["questions"]
    server.close_clients()
    server.stop()
    server.start()
    buyer = server.connect("buyer")
    assert get(buyer, pid)["questions"] == before
    buyer.ok("procurement.cancel", procurement=pid, reason="test over")
