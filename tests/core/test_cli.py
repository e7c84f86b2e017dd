import subprocess
import sys

from hermetic.cli import COMMAND_MODULES, build_parser, requested_verb


def test_verb_is_found_past_global_options_and_their_values():
    assert requested_verb(["-C", "build", "--store", "show", "--json", "explain", "x"]) == "explain"
    assert requested_verb(["--json"]) is None
    assert requested_verb(["not-a-verb", "build"]) is None


def test_a_known_verb_registers_only_itself_and_help_lists_them_all():
    one = build_parser("show")
    assert set(one._subparsers._group_actions[0].choices) == {"show"}
    every = build_parser()
    assert set(every._subparsers._group_actions[0].choices) == set(COMMAND_MODULES)


def test_running_a_verb_imports_no_other_command_module():
    code = ("import sys; from hermetic.cli import main; main(['config', 'schema']);"
            "print(sorted(m for m in sys.modules if m.startswith('hermetic.commands.')),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = done.stderr.strip().splitlines()[-1]
    assert "hermetic.commands.config" in loaded and "hermetic.commands.audit" not in loaded
