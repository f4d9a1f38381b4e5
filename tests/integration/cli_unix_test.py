#!/usr/bin/env python3
"""dlock as a Unix tool: its man page (cli/man/, made at build time) and its bash and zsh
completions (cli/completion/) say what the CLI's own help says, and work in real shells.

Every list the tests expect comes from `dlock --help` and `dlock SUB --help`, so that a
subcommand or option added to the CLI and forgotten in the man page or a completion fails
here. Run by ctest with DLOCK_MAN_PAGE (the built dlock.1.gz) and DLOCK_COMPLETION_DIR.
"""
import fcntl
import gzip
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
import unittest

from cli_util import DLOCK, DlockTestCase

SOURCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MAN_PAGE = os.environ.get("DLOCK_MAN_PAGE", os.path.join(os.path.dirname(DLOCK), "dlock.1.gz"))
COMPLETION_DIR = os.environ.get("DLOCK_COMPLETION_DIR", os.path.join(SOURCE, "cli", "completion"))
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
SCHEMES = ["file://", "redis://", "rediss://", "redis+sentinel://", "rediss+sentinel://",
           "redis+cluster://", "rediss+cluster://", "redlock://", "etcd://", "zk://"]
RE_SCHEMES = [s for s in SCHEMES if s.startswith("re")]


def dlock_help(*sub):
    r = subprocess.run([DLOCK, *sub, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"dlock {' '.join(sub)} --help exited {r.returncode}: {r.stderr}")
    return r.stdout


def help_items(text, heading):
    """The items under HEADING ("Options:", "Subcommands:", ...) of CLI11's help: a dict
    from each item's tag ("--ttl TEXT=30s") to its text, which may be on the next lines."""
    items, tag, inside = {}, None, False
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            inside, tag = line == heading, None
        elif inside and re.match(r"^  \S", line):
            tag, _, rest = line[2:].partition("  ")
            items[tag] = rest.strip()
        elif inside and tag and line.strip():
            items[tag] = (items[tag] + " " + line.strip()).strip()
    return items


def option_names(tag):
    """["-h", "--help"] for "-h,--help"; ["--ttl"] for "--ttl TEXT=30s"."""
    return tag.split(" ")[0].split(",")


class Cli:
    """What the help says: the subcommands, and the options of each ('' for dlock's own),
    with the tags of their items."""

    def __init__(self):
        top = dlock_help()
        self.subcommands = list(help_items(top, "Subcommands:"))
        self.tags = {"": help_items(top, "Options:")}
        self.positionals = {}
        for sub in self.subcommands:
            text = dlock_help(sub)
            self.tags[sub] = help_items(text, "Options:")
            self.positionals[sub] = [t.split(" ")[0] for t in help_items(text, "Positionals:")]

    def options(self, sub=""):
        return {name for tag in self.tags[sub] for name in option_names(tag)}

    def values(self, option):
        """The values of --log-level or --log-format, from their TEXT:{a,b,c} tags."""
        for tag in self.tags[""]:
            if option_names(tag) == [option]:
                return re.search(r"\{(.*)\}", tag).group(1).split(",")
        raise AssertionError(f"{option} is not in dlock --help")


CLI = None


def cli():
    global CLI
    if CLI is None:
        CLI = Cli()
    return CLI


class HelpParsingCase(DlockTestCase):
    def setUp(self):
        super().setUp()
        # The lists below come from parsing the help: make sure the parsing found them, or
        # every comparison with them would pass for nothing.
        c = cli()
        self.assertIn("run", c.subcommands)
        self.assertIn("fence", c.subcommands)
        self.assertIn("--backend", c.options())
        self.assertIn("--grace", c.options("run"))
        self.assertIn("--processes", c.options("bench"))
        self.assertEqual(c.positionals["fence"], ["store", "resource"])


def run_in_terminal(argv, line, out, env, cwd):
    """Starts an interactive shell on a pseudo-terminal, types LINE and a TAB, and waits
    for the shell to exit, as the test's completion hook makes it do once it has written
    the matches to OUT. Returns OUT's lines."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                         start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    screen = b""
    try:
        os.write(master, line.encode() + b"\t")
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
            ready, _, _ = select.select([master], [], [], give_up - time.monotonic())
            if not ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the shell is gone
                break
            if not data:
                break
            screen += data
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
        p.wait()
    if not os.path.exists(out):
        raise AssertionError(f"{argv[0]} completed nothing for {line!r}; the terminal showed "
                             f"{screen.decode(errors='replace')!r}")
    with open(out) as f:
        matches = f.read().split("\n")[:-1]
    os.unlink(out)
    return matches


class ManPageTest(HelpParsingCase):
    """The built dlock.1.gz: compressed as Debian wants it, rendered by man(1) without a
    warning, naming every subcommand and option of the help where it belongs, and every
    exit code and environment variable of the CLI's code."""

    def render(self):
        env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", MAN_PAGE], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "man(1) warned about the page")
        # Bold and underline as overstrikes, or as SGR escapes.
        return re.sub(r".\x08|\x1b\[[0-9;]*m", "", r.stdout)

    def sections(self):
        """{SECTION: [lines]} of the rendered page."""
        sections, name = {}, None
        for line in self.render().splitlines():
            if re.match(r"^[A-Z][A-Z ]*$", line):
                name = line
                sections[name] = []
            elif name:
                sections[name].append(line)
        return sections

    def assertTagged(self, lines, name, where):
        """NAME starts an item's tag (the first word, or one of "-h,--help") in LINES."""
        pattern = re.compile(r"^\s+(?:\S+,)*" + re.escape(name) + r"(?=[\s,]|$)")
        self.assertTrue(any(pattern.match(l) for l in lines), f"{name} is not an item of {where}")

    def test_compressed_with_no_name_or_time(self):
        with open(MAN_PAGE, "rb") as f:
            header = f.read(10)
        self.assertEqual(header[:3], b"\x1f\x8b\x08", "not gzip")
        self.assertEqual(header[3] & 0x08, 0, "gzip -n: no file name stored")
        self.assertEqual(header[4:8], b"\0\0\0\0", "gzip -n: no time stamp stored")
        self.assertEqual(header[8], 2, "gzip -9: compressed at the best level")
        with gzip.open(MAN_PAGE, "rt") as f:
            self.assertTrue(f.read().startswith('.\\" DO NOT MODIFY THIS FILE!'))

    def test_names_every_option_and_subcommand_of_dlock_help(self):
        options = self.sections()["OPTIONS"]
        for name in cli().options():
            self.assertTagged(options, name, "OPTIONS")
        for sub in cli().subcommands:
            self.assertTagged(options, sub, "OPTIONS (Subcommands:)")

    def test_names_every_option_of_each_subcommand_in_its_subsection(self):
        commands = self.sections()["COMMANDS"]
        starts = {m.group(1): i for i, l in enumerate(commands)
                  if (m := re.match(r"^   dlock (\S+)$", l))}
        self.assertEqual(sorted(starts), sorted(cli().subcommands))
        for sub, start in starts.items():
            end = min([i for i in starts.values() if i > start], default=len(commands))
            lines = commands[start + 1:end]
            for name in cli().options(sub) | set(cli().positionals[sub]):
                self.assertTagged(lines, name, f"the subsection dlock {sub}")
            usage = next(l for l in lines if "Usage:" in l)
            self.assertIn(f"Usage: dlock {sub} [OPTIONS]", usage)

    def test_exit_status_explains_every_exit_code(self):
        with open(os.path.join(SOURCE, "cli", "exit_codes.h")) as f:
            codes = re.findall(r"inline constexpr int kExit\w+ = (\d+);", f.read())
        self.assertGreaterEqual(len(codes), 10)
        exit_status = self.sections()["EXIT STATUS"]
        for code in codes:
            self.assertTrue(any(re.match(rf"^\s+{code}\s", l) for l in exit_status),
                            f"exit code {code} is not explained in EXIT STATUS")

    def test_environment_names_every_variable_the_cli_reads_or_sets(self):
        # What the code of the CLI and of the libraries reads with getenv(), and the DLOCK_*
        # in the CLI's strings: the variables it reads, sets for a command, or prints.
        variables = set()
        for top in ("cli", "src"):
            for folder, _, names in os.walk(os.path.join(SOURCE, top)):
                if folder.startswith(os.path.join(SOURCE, "src", "testing")):
                    continue
                for name in names:
                    if not name.endswith((".cc", ".h")) or name.endswith("_test.cc"):
                        continue
                    with open(os.path.join(folder, name)) as f:
                        code = f.read()
                    variables |= set(re.findall(r'getenv\("(\w+)"\)', code))
                    if top != "cli":
                        continue
                    for literal in re.findall(r'"(?:[^"\\\n]|\\.)*"', code):
                        variables |= set(re.findall(
                            r"(?:(?<=\\n)|(?<![A-Za-z0-9_]))(DLOCK_[A-Z][A-Z_]*)", literal))
        self.assertLessEqual({"DLOCK_BACKEND", "DLOCK_FENCING_TOKEN", "XDG_RUNTIME_DIR"},
                             variables)
        environment = self.sections()["ENVIRONMENT"]
        for variable in variables:
            self.assertTagged(environment, variable, "ENVIRONMENT")


class BashCompletionTest(HelpParsingCase):
    """cli/completion/dlock.bash in real bash: called as bash calls it (COMP_WORDS,
    COMP_CWORD, COMP_LINE, COMP_POINT), with bash-completion's helpers and without them,
    and through readline on a terminal for the words that bash itself splits (URIs)."""
    SCRIPT = os.path.join(COMPLETION_DIR, "dlock.bash")

    def complete(self, line, helpers=True):
        """COMPREPLY for LINE, the cursor at its end."""
        # COMP_WORDS as readline splits the line: at blanks, and around each run of the
        # other COMP_WORDBREAKS characters; the last word is the one being completed.
        words = []
        for blank_separated in line.split(" "):
            words += [w for w in re.split(r"([\"'><=;|&(:]+)", blank_separated) if w]
        if line == "" or line.endswith(" "):
            words.append("")
        script = f"""
            {"source " + BASH_COMPLETION if helpers else ""}
            source "$1"
            shift
            COMP_WORDS=("$@")
            COMP_CWORD=$(($# - 1))
            COMP_LINE=$DLOCK_TEST_LINE
            COMP_POINT=${{#COMP_LINE}}
            spec=$(complete -p dlock) || exit 1
            function=${{spec#*-F }}
            function=${{function%% *}}
            "$function" dlock "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD - 1]}}"
            printf '%s\\n' "${{COMPREPLY[@]}}"
        """
        env = dict(os.environ, DLOCK_TEST_LINE=line)
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", self.SCRIPT,
                            *words], env=env, cwd=self.tmp.name, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        # compopt complains that no completion is running: it is called by hand here.
        errors = [l for l in r.stderr.splitlines() if "not currently executing" not in l]
        self.assertEqual(errors, [], f"completing {line!r}")
        return [w for w in r.stdout.split("\n") if w]

    def complete_on_terminal(self, line):
        """What bash itself, reading LINE on a terminal, gets from the completion."""
        rc = self.path("bashrc")
        with open(rc, "w") as f:
            f.write(f"""
PS1='$ '
source {BASH_COMPLETION}
source {self.SCRIPT}
dlock_test_capture() {{
  _dlock "$@"
  : > "$DLOCK_TEST_OUT"
  if ((${{#COMPREPLY[@]}})); then printf '%s\\n' "${{COMPREPLY[@]}}" > "$DLOCK_TEST_OUT"; fi
  exit
}}
complete -F dlock_test_capture dlock
""")
        env = dict(os.environ, DLOCK_TEST_OUT=self.path("matches"), TERM="xterm",
                   INPUTRC="/dev/null", HISTFILE="/dev/null")
        return run_in_terminal(["bash", "--rcfile", rc, "-i"], line, self.path("matches"),
                               env, self.tmp.name)

    def test_registered_for_dlock(self):
        r = subprocess.run(["bash", "--norc", "-c", f'source "{self.SCRIPT}"; complete -p dlock'],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"-F _dlock dlock$")

    def test_completes_the_subcommands(self):
        for helpers in (True, False):
            self.assertEqual(sorted(self.complete("dlock ", helpers)), sorted(cli().subcommands))
            self.assertEqual(self.complete("dlock ru", helpers), ["run"])
        self.assertEqual(sorted(self.complete_on_terminal("dlock ")), sorted(cli().subcommands))

    def test_completes_the_options_of_dlock(self):
        for helpers in (True, False):
            self.assertEqual(sorted(self.complete("dlock -", helpers)), sorted(cli().options()))
            self.assertEqual(self.complete("dlock --log-l", helpers), ["--log-level"])

    def test_completes_the_options_of_every_subcommand(self):
        # Those of the subcommand and dlock's own (which may follow it), nothing else; and
        # `--` where a command follows.
        for sub in cli().subcommands:
            expected = cli().options(sub) | cli().options()
            if sub in ("run", "fence"):
                expected.add("--")
            for helpers in (True, False):
                got = self.complete(f"dlock {sub} -", helpers)
                self.assertEqual(sorted(set(got)), sorted(expected), f"dlock {sub} -<TAB>")
                self.assertEqual(len(got), len(set(got)), f"dlock {sub} -<TAB> repeats")
        run = {o for o in cli().options("run") if o.startswith("--")}
        self.assertLessEqual(run, set(self.complete("dlock run --")))
        self.assertLessEqual(run, set(self.complete("dlock --backend redis://h:6379 run x --")))
        self.assertLessEqual(run, set(self.complete_on_terminal("dlock run jobs/nightly --")))

    def test_completes_the_backend_schemes(self):
        for helpers in (True, False):
            self.assertEqual(self.complete("dlock --backend ", helpers), SCHEMES)
            self.assertEqual(self.complete("dlock --backend re", helpers),
                             RE_SCHEMES)
        self.assertEqual(self.complete("dlock --backend=", True), SCHEMES)
        self.assertEqual(self.complete_on_terminal("dlock --backend "), SCHEMES)
        self.assertEqual(self.complete_on_terminal("dlock --backend=re"),
                         RE_SCHEMES)
        # bash splits words at ':', and replaces what follows the last one.
        self.assertEqual(self.complete_on_terminal("dlock --backend rediss:"), ["//"])
        os.makedirs(self.dir)
        self.assertEqual(self.complete_on_terminal(f"dlock --backend file://{self.dir[:-2]}"),
                         [f"//{self.dir}/"])

    def test_completes_the_values_the_help_lists(self):
        for option in ("--log-level", "--log-format"):
            self.assertEqual(self.complete(f"dlock {option} "), cli().values(option))
            self.assertEqual(self.complete(f"dlock {option}="), cli().values(option))
        mode = next(text for tag, text in cli().tags["bench"].items()
                    if option_names(tag) == ["--mode"])
        self.assertEqual(self.complete("dlock bench --mode "), re.split(r", | or ", mode))
        self.assertEqual(self.complete("dlock run --ttl "), [], "a duration is free text")

    def test_completes_a_command_after_the_separator(self):
        self.assertIn("echo", self.complete_on_terminal("dlock run jobs/nightly -- ech"))
        self.assertIn("echo", self.complete("dlock run jobs/nightly -- ech", helpers=False))
        # The command's own arguments are not dlock's options.
        self.assertNotIn("--ttl", self.complete_on_terminal("dlock run x --ttl 5s -- ls --"))
        self.assertIn("echo", self.complete_on_terminal("dlock fence file out -- ech"))
        self.assertEqual(self.complete_on_terminal("dlock fence redis://h k -- SE"), [])

    def test_completes_the_stores_of_fence(self):
        self.assertEqual(self.complete("dlock fence f"), ["file"])
        self.assertEqual(self.complete("dlock fence p"), ["postgres://", "postgresql://"])
        with open(self.path("stock"), "w"):
            pass
        self.assertEqual(self.complete("dlock fence file st"), ["stock"])


class ZshCompletionTest(HelpParsingCase):
    """cli/completion/_dlock in a real interactive zsh on a terminal, with compinit: a
    hook on compadd records every match the completion offers."""
    SCRIPT = os.path.join(COMPLETION_DIR, "_dlock")

    def complete(self, line):
        home = self.path("zdotdir")
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, ".zshenv"), "w") as f:
            f.write("unsetopt GLOBAL_RCS\n")  # none of /etc/zsh's zshrc and the like
        with open(os.path.join(home, ".zshrc"), "w") as f:
            f.write(r"""
PS1='%% '
fpath=("$DLOCK_COMPLETION_DIR" $fpath)
autoload -Uz compinit && compinit -u -D
typeset -ga dlock_test_matches
# Matches, as matched against the word on the line; calls that only ask the matches
# (-O, -A, -D) are the completion system's own.
compadd() {
  if (( ${argv[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
  local -a matches
  builtin compadd -O matches "$@"
  dlock_test_matches+=($matches)
  builtin compadd "$@"
}
dlock_test_done() { print -rl -- $dlock_test_matches > "$DLOCK_TEST_OUT"; exit }
comppostfuncs=(dlock_test_done)
bindkey '^I' complete-word
""")
        env = dict(os.environ, ZDOTDIR=home, DLOCK_TEST_OUT=self.path("matches"),
                   DLOCK_COMPLETION_DIR=COMPLETION_DIR, TERM="xterm")
        return run_in_terminal(["zsh", "-i"], line, self.path("matches"), env, self.tmp.name)

    def test_parses(self):
        with open(self.SCRIPT) as f:
            self.assertEqual(f.readline(), "#compdef dlock\n")
        r = subprocess.run(["zsh", "-n", self.SCRIPT], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_completes_the_subcommands(self):
        self.assertEqual(sorted(self.complete("dlock ")), sorted(cli().subcommands))
        self.assertEqual(self.complete("dlock --log-level warn ins"), ["inspect"])

    def test_completes_the_options_of_dlock(self):
        self.assertEqual(sorted(self.complete("dlock -")), sorted(cli().options()))

    def test_completes_the_options_of_every_subcommand(self):
        for sub in cli().subcommands:
            expected = cli().options(sub) | cli().options()
            got = set(self.complete(f"dlock {sub} -"))
            self.assertEqual(sorted(got), sorted(expected), f"dlock {sub} -<TAB>")
        run = {o for o in cli().options("run") if o.startswith("--")}
        self.assertLessEqual(run, set(self.complete("dlock run --")))
        self.assertLessEqual(run, set(self.complete("dlock --backend redis://h:6379 run x --")))
        # --owner and --force exclude each other.
        self.assertNotIn("--force", self.complete("dlock release --owner x -"))

    def test_completes_the_backend_schemes(self):
        self.assertEqual(self.complete("dlock --backend "), SCHEMES)
        self.assertEqual(self.complete("dlock --backend="), SCHEMES)
        self.assertEqual(self.complete("dlock run x --backend red"),
                         RE_SCHEMES)
        os.makedirs(self.dir)
        self.assertEqual(set(self.complete(f"dlock --backend file://{self.dir[:-2]}")),
                         {os.path.basename(self.dir)})

    def test_completes_the_values_the_help_lists(self):
        for option in ("--log-level", "--log-format"):
            self.assertEqual(self.complete(f"dlock {option} "), cli().values(option))
        mode = next(text for tag, text in cli().tags["bench"].items()
                    if option_names(tag) == ["--mode"])
        self.assertEqual(self.complete("dlock bench --mode "), re.split(r", | or ", mode))

    def test_completes_a_command_after_the_separator(self):
        self.assertIn("echo", self.complete("dlock run jobs/nightly -- ech"))
        self.assertNotIn("--ttl", self.complete("dlock run x --ttl 5s -- ls --"))
        self.assertIn("echo", self.complete("dlock fence file out -- ech"))

    def test_completes_the_stores_of_fence(self):
        self.assertEqual(self.complete("dlock fence f"), ["file"])
        self.assertEqual(sorted(self.complete("dlock fence p")), ["postgres://", "postgresql://"])
        with open(self.path("stock"), "w"):
            pass
        self.assertEqual(self.complete("dlock fence file st"), ["stock"])


if __name__ == "__main__":
    unittest.main()
