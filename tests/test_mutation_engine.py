"""The parts of ``racekit mutate`` around the operators: reachability, coverage probes, verdicts, files.

Reachability is tested on the real catalogue where its answer is known,
the probe by running instrumented code, the verdict mapping on records
shaped like ``racekit check --json`` output.
"""

from __future__ import annotations

import ast
import hashlib
import os
import textwrap
import types
from pathlib import Path

import pytest

from racekit.registry import catalogue_root, load_system
from racekit.mutation import probe
from racekit.mutation.coverage import instrument
from racekit.mutation.generate import select_operators, variant_mutants
from racekit.mutation.reach import factory_roots, reachable, variant_code
from racekit.mutation.runner import CheckRun, copy_catalogue, verdict

ROOT = catalogue_root(Path(__file__).parent)


def functions_of(system: str, variant: str) -> set[str]:
    """What static reachability gives for one variant of the real catalogue."""
    import importlib

    v = load_system(system, ROOT).variant(variant)
    module = importlib.import_module(f"systems.{system}")
    text = (ROOT / "systems" / f"{system}.py").read_text()
    driver = (ROOT / "stateful_tests" / f"test_{system}.py").read_text()
    return set(variant_code(ast.parse(text), module, v.factory, driver).functions)


def test_a_thread_variant_reaches_its_own_class_only() -> None:
    assert functions_of("counter", "locked") == {"LockedCounter.__init__", "LockedCounter.increment", "LockedCounter.get"}


def test_overridden_base_methods_of_broken_subclasses_are_not_reached() -> None:
    fns = functions_of("bounded_queue", "condition")
    assert {"BoundedQueue.put", "BoundedQueue.take", "BoundedQueue.shutdown"} <= fns
    assert not any(f.startswith(("CheckThenPutQueue", "NotifyOnEmptyQueue", "IfNotWhileQueue")) for f in fns)


def test_a_lambda_factory_reaches_the_classes_it_names_and_the_driver_adds_the_rest() -> None:
    fns = functions_of("leader_election", "fenced")
    assert "Resource.accepts" in fns and "Candidate.lease_end" in fns
    assert "LockService.on_message" in fns  # taken by the engine driver, part of every variant
    assert not any(f.startswith(("UnfencedResource", "DriftUnawareCandidate")) for f in fns)


def test_worker_targets_spelled_as_strings_are_roots() -> None:
    # payment_processor's factory is a Config; the code runs as "systems.payment_processor:pay" in workers
    fns = functions_of("payment_processor", "unique_key")
    assert "Processor._take_over" in fns and "write_txn" in fns


def test_method_resolution_follows_the_real_mro_and_super() -> None:
    text = textwrap.dedent("""
        class Base:
            def a(self): return 1
            def b(self): return 2
            def c(self): return 3
        class Fixed(Base):
            def a(self): return 10
            def b(self): return super().b() + 1
        class Other(Base):
            def c(self): return 30
        """)
    module = types.ModuleType("snippet")
    exec(compile(text, "snippet.py", "exec"), module.__dict__)
    for obj in module.__dict__.values():
        if isinstance(obj, type):
            obj.__module__ = "snippet"
    roots = factory_roots(module.Fixed, module)
    assert roots == {"Fixed"}
    found = set(reachable(ast.parse(text), module, roots).functions)
    assert found == {"Fixed.a", "Fixed.b", "Base.b", "Base.c"}  # Base.a is overridden, Other never used


def test_probe_records_lines_from_instrumented_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = textwrap.dedent('''
        """doc"""
        from __future__ import annotations

        def f(x):
            if x:
                return 1
            return 2
        ''').lstrip("\n")
    out = instrument(source)
    # the probe import goes after the docstring and the __future__ import, which must stay first
    assert out.index("from __future__") < out.index("import hit as _racekit_hit")
    monkeypatch.setenv(probe.ENV, str(tmp_path))
    monkeypatch.setattr(probe, "_seen", set())
    monkeypatch.setattr(probe, "_fd", [])
    monkeypatch.setattr(probe, "_pid", [])
    namespace: dict[str, object] = {}
    exec(compile(out, "instrumented.py", "exec"), namespace)
    f = namespace["f"]
    assert callable(f) and f(0) == 2
    assert probe.read(str(tmp_path)) == {5, 7}  # ``if x:`` and ``return 2``; ``return 1`` never ran
    for fd in probe._fd:
        os.close(fd)


def test_instrumented_systems_compile() -> None:
    for path in sorted((ROOT / "systems").glob("*.py")):
        compile(instrument(path.read_text(), str(path)), str(path), "exec")


def record(outcome: str, **kw: object) -> CheckRun:
    return CheckRun({"system": "s", "variant": "v", "outcome": outcome, "problems": [], **kw}, 1.0)


def test_verdicts() -> None:
    assert verdict(record("violation", property="linearizability", message="m")) == ("killed", "linearizability", "m")
    assert verdict(record("clean"))[0] == "survived"
    status, prop, _ = verdict(record("clean", problems=["naive--lin.json replays with a violation on locked: x"]))
    assert status == "killed" and prop == "saved counterexample naive--lin.json"
    assert verdict(record("clean", problems=["the search explored no schedule at all"]))[0] == "error"
    assert verdict(record("error", message="boom"))[0] == "error"
    assert verdict(record("skipped", message="no PostgreSQL"))[0] == "skipped"
    assert verdict(CheckRun(None, 61.0, timed_out=True))[0] == "timeout"
    assert verdict(CheckRun(None, 1.0, stderr="Traceback\nKeyError: x\n")) == ("error", None, "the check printed no result: KeyError: x")


def test_generating_and_copying_never_touch_the_catalogue(tmp_path: Path) -> None:
    path = ROOT / "systems" / "bounded_queue.py"
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    mutants = variant_mutants(ROOT, "bounded_queue", load_system("bounded_queue", ROOT).variant("condition"), select_operators(None))
    assert mutants and all(m.original == path.read_text() for m in mutants)
    copy_catalogue(ROOT, tmp_path, "bounded_queue")
    assert (tmp_path / "systems" / "bounded_queue.py").read_bytes() == path.read_bytes()
    assert not list(tmp_path.rglob("__pycache__"))
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def test_equivalence_judgments_follow_the_code_not_the_line_numbers(tmp_path: Path) -> None:
    from racekit.mutation.generate import mutants_of
    from racekit.mutation.ledger import Judgment, fingerprint, judged, key
    from racekit.mutation.reach import everything

    code = "class C:\n    def get(self):\n        with self.lock:\n            return self.value\n"
    shifted = "# a comment\n\n" + code
    changed = code.replace("self.value", "self.other")

    def only(text: str):  # type: ignore[no-untyped-def]
        (m,) = mutants_of(text, "s.py", everything(ast.parse(text)), select_operators(["remove_lock"]), "s", "v")
        return m

    m = only(code)
    assert key(m) == "remove_lock:C.get"
    j = Judgment("s", "v", key(m), fingerprint(m), "one atomic load")
    assert judged(m, [j]) is j
    assert judged(only(shifted), [j]) is j  # moved down two lines: same judgment
    assert judged(only(changed), [j]) is None  # the code argued about changed: the judgment lapses


def test_ledger_entries_need_an_argument(tmp_path: Path) -> None:
    from racekit.errors import InvalidDefinition
    from racekit.mutation.ledger import LEDGER, load

    assert load(tmp_path) == []
    (tmp_path / LEDGER).parent.mkdir()
    (tmp_path / LEDGER).write_text('[[equivalent]]\nsystem = "s"\nvariant = "v"\nmutant = "m:f"\nfingerprint = "x"\nwhy = " "\n')
    with pytest.raises(InvalidDefinition, match="gives no argument"):
        load(tmp_path)
    (tmp_path / LEDGER).write_text('[[equivalent]]\nsystem = "s"\n')
    with pytest.raises(InvalidDefinition, match="lacks variant, mutant, fingerprint, why"):
        load(tmp_path)


def test_the_catalogue_ledger_parses_and_every_judgment_argues() -> None:
    from racekit.mutation.ledger import load

    judgments = load(ROOT)
    assert judgments, "mutants/equivalent.toml holds the catalogue's equivalence judgments"
    assert all(len(j.why) > 40 for j in judgments)


def test_the_same_added_line_in_two_places_has_two_fingerprints() -> None:
    from racekit.mutation.generate import mutants_of
    from racekit.mutation.ledger import fingerprint
    from racekit.mutation.reach import everything

    code = "class C:\n    def f(self):\n        with self.lock:\n            self.a = 1\n            self.b = 2\n            self.c = 3\n"
    splits = mutants_of(code, "s.py", everything(ast.parse(code)), select_operators(["split_critical_section"]))
    assert len(splits) == 2 and fingerprint(splits[0]) != fingerprint(splits[1])
