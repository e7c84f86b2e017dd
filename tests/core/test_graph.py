import threading
import time

import pytest

from hermetic.errors import ConfigError
from hermetic.graph import Graph, build_graph, critical_path_priorities, run_parallel
from hermetic.specinfo import SpecInfo, read_spec


def info(name, packages=(), requires=()):
    return SpecInfo(name, frozenset({name, *packages}), frozenset(requires))


def test_edges_come_from_build_requires_matched_to_produced_packages():
    graph = build_graph({
        "lib": info("lib", ["lib-devel"], ["gcc"]),
        "app": info("app", [], ["lib-devel", "make"]),
    })
    assert graph.dependencies == {"lib": frozenset(), "app": frozenset({"lib"})}
    assert graph.order() == ["lib", "app"]


def test_cycle_is_an_error_naming_the_cycle():
    with pytest.raises(ConfigError, match=r"dependency cycle: a -> b -> c -> a"):
        build_graph({
            "a": info("a", [], ["b"]),
            "b": info("b", [], ["c"]),
            "c": info("c", [], ["a"]),
        })


def test_a_package_produced_twice_is_an_error():
    with pytest.raises(ConfigError, match="produced by two components: a and b"):
        build_graph({"a": info("a", ["shared"]), "b": info("b", ["shared"])})


def test_closure_includes_transitive_dependencies_only():
    graph = Graph({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset(), "d": frozenset()})
    assert graph.closure(["a"]) == {"a", "b", "c"}


def test_failure_skips_dependents_but_independent_work_finishes():
    graph = Graph({"lib": frozenset(), "app": frozenset({"lib"}), "other": frozenset()})
    ran = []

    def run(name):
        ran.append(name)
        return name != "lib"

    outcome = run_parallel(graph, 2, run)
    assert outcome.failed == {"lib"}
    assert outcome.skipped == {"app"}
    assert outcome.succeeded == {"other"}
    assert "app" not in ran


def test_exceptions_are_failures_and_kept():
    graph = Graph({"a": frozenset()})

    def run(name):
        raise RuntimeError("boom")

    outcome = run_parallel(graph, 1, run)
    assert outcome.failed == {"a"}
    assert isinstance(outcome.errors["a"], RuntimeError)


def test_independent_components_run_concurrently():
    graph = Graph({"a": frozenset(), "b": frozenset()})
    barrier = threading.Barrier(2, timeout=5)

    def run(name):
        barrier.wait()  # only returns if both run at the same time
        return True

    assert run_parallel(graph, 2, run).succeeded == {"a", "b"}


def test_dependencies_finish_before_dependents_start():
    graph = Graph({"lib": frozenset(), "app": frozenset({"lib"})})
    finished = set()

    def run(name):
        if name == "app":
            assert "lib" in finished
        time.sleep(0.01)
        finished.add(name)
        return True

    assert run_parallel(graph, 4, run).succeeded == {"lib", "app"}


def test_critical_path_runs_the_longest_chain_first():
    # a <- b <- c (c needs b needs a); d alone; e needs a.
    graph = Graph({"a": frozenset(), "b": frozenset({"a"}), "c": frozenset({"b"}),
                   "d": frozenset(), "e": frozenset({"a"})})
    priorities = critical_path_priorities(graph)
    assert priorities == {"a": 3, "b": 2, "c": 1, "d": 1, "e": 1}


def test_ready_components_start_by_priority_then_name():
    graph = Graph({name: frozenset() for name in ("a", "b", "c", "d")})
    order = []

    def run(name):
        order.append(name)
        return True

    run_parallel(graph, 1, run, priority={"c": 5, "d": 2})
    assert order == ["c", "d", "a", "b"]


def test_local_builds_take_the_critical_path_first():
    # With one job, the head of the long chain goes before the leaves ahead of it by name.
    graph = Graph({"a-leaf": frozenset(), "b-leaf": frozenset(), "z-base": frozenset(),
                   "z-mid": frozenset({"z-base"}), "z-top": frozenset({"z-mid"})})
    order = []

    def run(name):
        order.append(name)
        return True

    run_parallel(graph, 1, run, priority=critical_path_priorities(graph))
    assert order[0] == "z-base"


def test_jobs_may_grow_while_running():
    graph = Graph({name: frozenset() for name in "abcdef"})
    limit = [1]
    running = []
    most = [0]
    lock = threading.Lock()

    def run(name):
        with lock:
            running.append(name)
            most[0] = max(most[0], len(running))
        time.sleep(0.05)
        limit[0] = 3  # learnt meanwhile (an executor's capacity)
        with lock:
            running.remove(name)
        return True

    assert run_parallel(graph, lambda: limit[0], run).succeeded == set("abcdef")
    assert most[0] == 3


def test_read_spec_expands_names_and_drops_versions_and_rich_deps():
    spec = """\
Name: foo
%global sub bar
BuildRequires: a >= 1.0, b, (c or d)
BuildRequires: pkgconfig(glib-2.0), /usr/bin/x, %{name}-%{sub}-devel
%package -n python3-%{name}
Summary: x
%package %{sub}
Summary: y
%description
BuildRequires: not-a-tag-here
"""
    parsed = read_spec("Source9999: options.macros\n%{load:%{SOURCE9999}}\n" + spec)
    assert parsed.packages == {"foo", "python3-foo", "foo-bar"}
    assert parsed.build_requires == {"a", "b", "pkgconfig(glib-2.0)", "foo-bar-devel"}
