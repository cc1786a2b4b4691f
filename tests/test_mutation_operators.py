"""Each mutation operator on a small snippet: the mutant is exactly the change it claims.

Every test compares whole mutated texts, so an operator that edits the
wrong span, breaks indentation, or changes more than it says fails here.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from racekit.mutation.generate import Mutant, mutants_of, select_operators
from racekit.mutation.reach import everything


def mutate(snippet: str, operator: str) -> list[Mutant]:
    text = textwrap.dedent(snippet).lstrip("\n")
    return mutants_of(text, "snippet.py", everything(ast.parse(text)), select_operators([operator]))


def only(snippet: str, operator: str) -> str:
    found = mutate(snippet, operator)
    assert len(found) == 1, [m.id for m in found]
    return found[0].text


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


LOCKED = """
class C:
    def inc(self):
        with self.lock:
            self.value += 1
            self.count += 1
"""


def test_remove_lock_unwraps_the_block() -> None:
    assert only(LOCKED, "remove_lock") == dedent("""
        class C:
            def inc(self):
                self.value += 1
                self.count += 1
        """)


def test_remove_lock_keeps_a_block_that_waits() -> None:
    # a condition wait without its lock raises RuntimeError at once: stillborn, never proposed
    assert mutate("""
        class C:
            def take(self):
                with self.cond:
                    while not self.items:
                        self.cond.wait()
                    return self.items.pop()
        """, "remove_lock") == []


def test_remove_lock_on_acquire_try_finally_release() -> None:
    assert only("""
        class C:
            def get(self):
                self.rw.acquire_read()
                try:
                    return self.data
                finally:
                    self.rw.release_read()
        """, "remove_lock") == dedent("""
        class C:
            def get(self):
                try:
                    return self.data
                finally:
                    pass
        """)


def test_remove_lock_drops_one_of_two_locks() -> None:
    texts = [m.text for m in mutate("""
        def move(a, b):
            with a.lock, b.lock:
                a.n -= 1
                b.n += 1
        """, "remove_lock")]
    assert any("with b.lock:" in t and "a.lock" not in t for t in texts)
    assert any("with a.lock:" in t and "b.lock" not in t for t in texts)
    assert any("with" not in t for t in texts)


def test_shrink_moves_first_and_last_statement_out() -> None:
    found = {m.id.split("/")[-1]: m.text for m in mutate(LOCKED, "shrink_critical_section")}
    assert found["head"] == dedent("""
        class C:
            def inc(self):
                self.value += 1
                with self.lock:
                    self.count += 1
        """)
    assert found["tail"] == dedent("""
        class C:
            def inc(self):
                with self.lock:
                    self.value += 1
                self.count += 1
        """)


def test_shrink_and_split_skip_local_only_statements() -> None:
    snippet = """
        class C:
            def pop(self):
                with self.lock:
                    item = self.items.pop()
                    return item
        """
    # ``return item`` means the same inside or outside the lock: equivalent, not proposed
    assert [m.id for m in mutate(snippet, "shrink_critical_section")] == ["shrink_critical_section@4:12/head"]
    assert mutate(snippet, "split_critical_section") == []


def test_split_releases_and_reacquires() -> None:
    assert only(LOCKED, "split_critical_section") == dedent("""
        class C:
            def inc(self):
                with self.lock:
                    self.value += 1
                with self.lock:
                    self.count += 1
        """)


def test_swap_lock_order_nested_items_and_acquires() -> None:
    assert only("""
        def f(a, b):
            with a:
                with b:
                    a.n = b.n
        """, "swap_lock_order") == dedent("""
        def f(a, b):
            with b:
                with a:
                    a.n = b.n
        """)
    assert only("""
        def f(a, b):
            with a.lock, b.lock:
                a.n = b.n
        """, "swap_lock_order") == dedent("""
        def f(a, b):
            with b.lock, a.lock:
                a.n = b.n
        """)
    assert only("""
        def f(first, second):
            first.lock.acquire()
            second.lock.acquire()
        """, "swap_lock_order") == dedent("""
        def f(first, second):
            second.lock.acquire()
            first.lock.acquire()
        """)


WAITER = """
class Q:
    def take(self):
        with self.cond:
            while not self.items:
                self.cond.wait()
            item = self.items.pop()
            self.cond.notify_all()
            return item
"""


def test_while_to_if() -> None:
    assert only(WAITER, "while_to_if") == WAITER.lstrip("\n").replace("while not", "if not")


def test_drop_and_narrow_notify() -> None:
    assert only(WAITER, "drop_notify") == WAITER.lstrip("\n").replace("self.cond.notify_all()", "pass")
    assert only(WAITER, "narrow_notify") == WAITER.lstrip("\n").replace("notify_all()", "notify()")


def test_while_without_a_wait_is_not_a_condition_loop() -> None:
    assert mutate("""
        def f(xs):
            while xs:
                xs.pop()
        """, "while_to_if") == []


def test_cas_to_store() -> None:
    assert only("""
        class C:
            def inc(self):
                while True:
                    seen = self.value.load()
                    if self.value.compare_and_set(seen, seen + 1):
                        return
        """, "cas_to_store") == dedent("""
        class C:
            def inc(self):
                while True:
                    seen = self.value.load()
                    if (self.value.store(seen + 1), True)[1]:
                        return
        """)


def test_drop_sql_guard_drops_the_condition_and_its_parameter() -> None:
    found = mutate("""
        def take_over(db, me, key, owner):
            return db.execute(
                "UPDATE p SET owner = ? WHERE key = ? AND state = 'pending' AND owner IS ?",
                (me, key, owner),
            )
        """, "drop_sql_guard")
    texts = sorted(m.text for m in found)
    assert len(texts) == 2
    assert "\"UPDATE p SET owner = ? WHERE key = ? AND state = 'pending'\",\n        (me, key)," in texts[0] + texts[1]
    assert "'UPDATE p SET owner = ? WHERE key = ? AND owner IS ?',\n        (me, key, owner)," in texts[0] + texts[1]


def test_drop_sql_guard_on_an_upsert_constant() -> None:
    text = only("""
        UPSERT = "INSERT INTO kv(k, v, s) VALUES (?, ?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v WHERE excluded.s > kv.s"

        def put(db, k, v, s):
            db.execute(UPSERT, (k, v, s))
        """, "drop_sql_guard")
    assert "WHERE" not in text and "DO UPDATE SET v = excluded.v'" in text
    assert "db.execute(UPSERT, (k, v, s))" in text


def test_drop_sql_guard_leaves_a_single_key_condition() -> None:
    assert mutate("""
        def ack(db, i):
            db.execute("UPDATE m SET acked = 1 WHERE id = ?", (i,))
        """, "drop_sql_guard") == []


TXN = """
class C:
    def apply(self, i, n):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT INTO inbox VALUES (?)", (i,))
            self.db.execute("INSERT INTO effects VALUES (?)", (n,))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
"""


def test_split_transaction_commits_between_two_statements() -> None:
    assert only(TXN, "split_transaction") == TXN.lstrip("\n").replace(
        '"INSERT INTO inbox VALUES (?)", (i,))\n',
        '"INSERT INTO inbox VALUES (?)", (i,))\n'
        '            self.db.execute("COMMIT")\n'
        '            self.db.execute("BEGIN IMMEDIATE")\n',
    )


def test_drop_transaction_removes_begin_commit_and_rollback_together() -> None:
    text = only(TXN, "drop_transaction")
    assert "BEGIN" not in text and "COMMIT" not in text and "ROLLBACK" not in text
    assert text.count("pass") == 3


def test_drop_commit_and_fsync() -> None:
    assert only(TXN, "drop_commit") == TXN.lstrip("\n").replace('self.db.execute("COMMIT")', "pass")
    assert only("""
        import os
        def sync(fd, data):
            os.write(fd, data)
            os.fsync(fd)
        """, "drop_fsync") == dedent("""
        import os
        def sync(fd, data):
            os.write(fd, data)
            pass
        """)


def test_transaction_block_split_and_drop() -> None:
    snippet = """
        def pay(db, key):
            with write_txn(db):
                db.execute("INSERT INTO p VALUES (?)", (key,))
                db.execute("UPDATE s SET n = n + 1")
        """
    assert only(snippet, "split_transaction") == dedent("""
        def pay(db, key):
            with write_txn(db):
                db.execute("INSERT INTO p VALUES (?)", (key,))
            with write_txn(db):
                db.execute("UPDATE s SET n = n + 1")
        """)
    assert only(snippet, "drop_transaction") == dedent("""
        def pay(db, key):
            db.execute("INSERT INTO p VALUES (?)", (key,))
            db.execute("UPDATE s SET n = n + 1")
        """)


def test_flip_comparison() -> None:
    found = {m.note: m.text for m in mutate("""
        def accepts(token, highest, xs, k):
            return token >= highest and (k not in xs) and xs is not None
        """, "flip_comparison")}
    assert set(found) == {">= -> >", "not in -> in", "is not -> is"}
    assert "token > highest" in found[">= -> >"]
    assert "(k in xs)" in found["not in -> in"]
    assert "xs is None" in found["is not -> is"]


def test_flip_comparison_with_parenthesised_operands() -> None:
    text = only("""
        def f(a, b, c):
            return (a + b) < (c)
        """, "flip_comparison")
    assert "return (a + b) <= (c)" in text


@pytest.mark.parametrize("literal, plus, minus", [("2", "3", "1"), ("0", "1", "(-1)")])
def test_off_by_one(literal: str, plus: str, minus: str) -> None:
    found = {m.id.split("/")[-1]: m.text for m in mutate(f"""
        def full(items):
            return len(items) >= {literal}
        """, "off_by_one")}
    assert f">= {plus}\n" in found["+1"] and f">= {minus}\n" in found["-1"]


def test_off_by_one_ignores_large_caps() -> None:
    assert mutate("""
        def f():
            for _ in range(10_000):
                pass
        """, "off_by_one") == []


def test_drop_assignment_only_where_the_target_already_exists() -> None:
    found = [m.text for m in mutate("""
        class C:
            def __init__(self):
                self.flag = False

            def f(self, x):
                y = x + 1
                y = y * 2
                self.flag = True
                self.n += y
                return y
        """, "drop_assignment")]
    # not __init__, not the first binding of y: the second y, self.flag and self.n
    assert len(found) == 3
    assert all("self.flag = False" in t for t in found)
    assert all("y = x + 1" in t for t in found)


def test_every_operator_is_registered_with_a_family() -> None:
    ops = select_operators(None)
    names = {op.name for op in ops}
    assert {
        "remove_lock", "shrink_critical_section", "split_critical_section", "swap_lock_order", "while_to_if",
        "drop_notify", "narrow_notify", "cas_to_store", "drop_sql_guard", "drop_commit", "drop_fsync",
        "drop_transaction", "split_transaction", "flip_comparison", "off_by_one", "drop_assignment",
    } <= names
    assert [op.name for op in select_operators(["conditions"])] == ["while_to_if", "drop_notify", "narrow_notify"]


def test_unknown_operator_is_a_user_error() -> None:
    from racekit.errors import RacekitError

    with pytest.raises(RacekitError, match="unknown mutation operator 'nope'"):
        select_operators(["nope"])


def test_mutants_compile_and_differ_and_are_unique() -> None:
    snippet = WAITER + LOCKED + TXN
    found = mutants_of(snippet.lstrip("\n"), "s.py", everything(ast.parse(snippet.lstrip("\n"))), select_operators(None))
    original = ast.dump(ast.parse(snippet.lstrip("\n")))
    assert len({m.text for m in found}) == len(found) == len({m.id for m in found})
    for m in found:
        assert ast.dump(ast.parse(m.text)) != original
        assert m.diff().startswith("--- a/s.py")
