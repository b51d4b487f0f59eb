"""The README and docs as a newcomer reads them: the install path, links, and the commands whose
output the pages show (run here, compared line by line; `...` in a page stands for any lines)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README] + sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "performance.md")
# Commands that need no data, no training and no network: their output is the same everywhere.
OFFLINE_COMMANDS = ("params", "summary", "models")
# Datasets no machine here holds (info then prints the same, with an empty cache)
NOT_ON_DISK = ("mnist", "cifar10", "cifar100")


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(info string, lines) of every ``` block, in order."""
    blocks, info, lines = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if info is None:
                info, lines = line[3:].strip(), []
            else:
                blocks.append((info, lines))
                info = None
        elif info is not None:
            lines.append(line)
    return blocks


def shown_commands(page: Path) -> list[tuple[str, list[str], list[str] | None]]:
    """(command, the output the page shows, the python block just before) for each `$ cnnlab`."""
    found, previous = [], None
    for info, lines in fenced_blocks(page.read_text(encoding="utf-8")):
        if info == "python":
            previous = lines
            continue
        starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
        for n, i in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            output = lines[i + 1:end]
            while output and not output[-1].strip():
                output.pop()
            found.append((lines[i][2:], output, previous if n == 0 else None))
        previous = None
    return found


def offline_examples() -> list[tuple[str, str, list[str], list[str] | None]]:
    examples = []
    for page in PAGES:
        for command, output, code in shown_commands(page):
            words = command.split()
            if words[0] == "cnnlab" and (words[1] in OFFLINE_COMMANDS or _info_of_missing_data(words)):
                examples.append((page.relative_to(ROOT).as_posix(), command, output, code))
    return examples


def _info_of_missing_data(words: list[str]) -> bool:
    return words[1:3] == ["datasets", "info"] and len(words) == 4 and words[3] in NOT_ON_DISK


def matches(shown: list[str], printed: list[str]) -> bool:
    """The printed lines are the shown ones, where a shown `...` line stands for any lines."""
    pattern = "".join(".*" if line == "..." else re.escape(line + "\n") for line in shown)
    return re.fullmatch(pattern, "".join(line + "\n" for line in printed), re.DOTALL) is not None


EXAMPLES = offline_examples()


def test_the_pages_show_the_offline_commands_a_newcomer_tries_first():
    commands = {command for _, command, _, _ in EXAMPLES}
    assert "cnnlab summary cifar_model --dataset cifar10" in commands
    assert "cnnlab models" in commands
    assert "cnnlab summary docs/examples/lesson_model.py --dataset cifar10 --explain | tail -9" in commands
    assert "cnnlab datasets info cifar10" in commands
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("page, command, shown, code", EXAMPLES, ids=[f"{p}: {c}" for p, c, _, _ in EXAMPLES])
def test_a_documented_command_prints_what_the_page_shows(page, command, shown, code, tmp_path):
    """Run from the repository's root, as the page's relative paths (docs/examples/...) assume."""
    argv = shlex.split(command.split("|")[0])
    for word in argv:
        if word.startswith("docs/"):
            assert (ROOT / word).is_file(), f"{page} uses {word}, which the repository does not hold"
    python = f"{shlex.quote(sys.executable)} -m cnnlab"
    done = subprocess.run(python + command[len("cnnlab"):], shell=True, cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=_environment(tmp_path))
    printed = done.stdout.splitlines()
    assert matches(shown, printed), f"{page}: `{command}` printed:\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("page, command, code", [(p, c, code) for p, c, _, code in EXAMPLES if code],
                         ids=[f"{p}: {c}" for p, c, _, code in EXAMPLES if code])
def test_the_code_a_page_shows_is_the_example_file_it_runs(page, command, code):
    path = next(word for word in shlex.split(command) if word.startswith("docs/examples/"))
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if not line.startswith("#")] == code


def _environment(tmp_path: Path) -> dict:
    """A terminal of 80 columns, as the pages were written for; an empty cache and home (no
    ~/.keras/datasets), as on a newcomer's machine."""
    return {**os.environ, "COLUMNS": "80", "CNNLAB_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}


# --- installing ------------------------------------------------------------------------------


def _install_block(page: Path) -> list[str]:
    """The pip install block: its commands, comments stripped."""
    for _, lines in fenced_blocks(page.read_text(encoding="utf-8")):
        if any(line.startswith("pip install -e .") for line in lines):
            return lines
    raise AssertionError(f"{page.name} has no block with `pip install -e .`")


def _commands(lines: list[str]) -> list[str]:
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def _torch_pin() -> str:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'"torch>=[\d.]+,<=([\d.]+)"', pyproject).group(1)


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "index.md"], ids=["README.md", "docs/index.md"])
def test_the_pip_install_path_runs_as_written_then_tries_the_lesson(page):
    lines = _install_block(page)
    assert _commands(lines) == [
        "python3 -m venv .venv",  # `python` alone is missing on Debian and Ubuntu
        "source .venv/bin/activate",
        f"pip install torch=={_torch_pin()} --index-url https://download.pytorch.org/whl/cpu",
        "pip install -e .",
        "cnnlab lesson --quick",
    ]
    text = "\n".join(lines)
    assert "py -m venv .venv" in text and r".venv\Scripts\activate" in text  # what Windows types
    assert "macOS and Windows skip this line" in text


def test_the_readme_installs_mkdocs_before_it_serves_the_docs():
    """The pip path installs no mkdocs: the docs extra brings it."""
    text = README.read_text(encoding="utf-8")
    assert "mkdocs serve" in text and "pip install -e '.[docs]'" in text
    assert text.index("pip install -e '.[docs]'") < text.index("mkdocs serve")


def test_readme_and_the_docs_home_give_the_same_install_commands():
    assert _commands(_install_block(README)) == _commands(_install_block(ROOT / "docs" / "index.md"))


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "index.md"], ids=["README.md", "docs/index.md"])
def test_the_install_section_says_what_a_mac_or_windows_machine_gets(page):
    text = page.read_text(encoding="utf-8")
    install = text[text.index("## Install"):]
    install = install[:install.index("\n## ", 1)]
    assert "compiles cnnlab's CPU kernels once" in install
    assert "performance.md#macos-windows-and-machines-without-a-compiler" in install


# --- links -----------------------------------------------------------------------------------


def _anchors(page: Path) -> set[str]:
    """The ids MkDocs (and GitHub) give the page's headings."""
    ids = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            ids.add(re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", title)))
    return ids


def test_every_link_of_the_readme_leads_somewhere():
    """The docs build checks the docs' links; nothing else reads the README's."""
    for target in re.findall(r"\]\(([^)\s]+)\)", README.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), f"README links to {path}, which does not exist"
        if anchor:
            assert anchor in _anchors(ROOT / path), f"README links to {target}: no such heading"


# --- printed output the pages quote ------------------------------------------------------------


def test_the_lesson_page_quotes_the_dropout_observation_as_the_lesson_words_it():
    from cnnlab.lesson.observations import _dropout

    page = (ROOT / "docs" / "lesson.md").read_text(encoding="utf-8")
    line = next(line.strip()[2:] for line in page.splitlines() if "with Dropout(0.2)" in line)
    gaps = [float(g) / 100 for g in re.findall(r"by (\d+\.\d) points", line)]
    tests = [float(t) / 100 for t in re.findall(r"(\d+\.\d)% with dropout", line) + re.findall(r"(\d+\.\d)% without", line)]
    assert len(gaps) == 2 and len(tests) == 2, line

    def row(gap, test):
        return SimpleNamespace(run=SimpleNamespace(history=SimpleNamespace(accuracy=[0.9 + gap], val_accuracy=[0.9])),
                               test_accuracy=test)

    by_model = {"cifar_model_dropout": row(gaps[0], tests[0]), "cifar_model": row(gaps[1], tests[1])}
    assert _dropout("fashion_mnist", by_model) == line


def test_the_readme_python_example_prints_keras_results():
    code = next(lines for info, lines in fenced_blocks(README.read_text(encoding="utf-8"))
                if info == "python" and any("cnnlab.fit(" in line for line in lines))
    done = subprocess.run([sys.executable, "-c", "\n".join(code)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert 'Model: "dense_only"' in out and "Total params: 6,310" in out
    history = re.search(r"^\[([\d., ]+)\]$", out, re.MULTILINE)
    assert history and len(history.group(1).split(",")) == 3  # val_accuracy of 3 epochs
    assert re.search(r"^\{'loss': [\d.]+, 'accuracy': [\d.]+\}$", out, re.MULTILINE)


# --- make setup --------------------------------------------------------------------------------


def _setup_recipe() -> list[str]:
    """The commands `make setup` runs, from a dry run that always remakes (nothing executes)."""
    done = subprocess.run(["make", "-n", "-B", "setup"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here (Windows): the pip path is the one")
def test_make_setup_takes_torch_pinned_and_on_linux_from_the_cpu_index():
    torch_line = next(line for line in _setup_recipe() if "pip install" in line and "torch==" in line)
    assert f"torch=={_torch_pin()}" in torch_line.split()
    if sys.platform.startswith("linux"):  # PyPI's Linux torch is the CUDA build, several GB
        assert "--index-url https://download.pytorch.org/whl/cpu" in torch_line


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here (Windows): the pip path is the one")
def test_make_setup_says_what_it_is_doing_before_each_slow_step():
    recipe = _setup_recipe()
    for i, line in enumerate(recipe):
        if "pip install" in line:
            assert recipe[i - 1].startswith("echo "), f"`{line}` runs without a word before it"


# --- every command the pages show ----------------------------------------------------------------


def _documented_command_lines() -> list[tuple[str, str]]:
    """(page, command) for each `cnnlab ...` a page's blocks show, synopses (`[--flag]`) left out."""
    found = []
    for page in PAGES:
        for info, lines in fenced_blocks(page.read_text(encoding="utf-8")):
            if info == "python":
                continue
            for line in "\n".join(lines).replace("\\\n", " ").splitlines():
                line = line[2:] if line.startswith("$ ") else line
                for part in re.split(r" ; | && ", line):
                    part = part.split(" | ")[0]
                    if part.startswith("cnnlab ") and " [--" not in part:
                        found.append((page.name, part))
    return found


def test_every_command_a_page_shows_is_accepted_by_the_command_line():
    """Flags renamed or removed leave no stale command on a page (parsed, not run)."""
    from cnnlab.cli import build_parser

    commands = _documented_command_lines()
    assert len(commands) > 40
    for page, command in commands:
        try:
            build_parser().parse_args(shlex.split(command, comments=True)[1:])
        except SystemExit as stop:
            assert not stop.code, f"{page}: `{command}` is refused by cnnlab's argument parser"
