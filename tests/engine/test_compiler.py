"""What other platforms meet: no compiler (Apple's stub on macOS), no oneDNN wheel."""

import pytest

from cnnlab.engine.native import compiler, onednn


@pytest.fixture
def fresh_compiler():
    """Forget what was loaded and said, before and after the test."""
    def clear():
        compiler.load.cache_clear()
        compiler._announce_no_compiler.cache_clear()
        compiler._reasons.clear()

    clear()
    yield
    clear()


def test_cnnlab_onednn_0_acts_as_if_the_wheel_were_absent(monkeypatch, fresh_compiler):
    monkeypatch.setenv("CNNLAB_ONEDNN", "0")
    assert compiler.onednn_prefix() is None
    assert onednn.status() == "torch (oneDNN is not installed (pip install onednn-devel-cpu-gomp))"


def test_apples_stub_compiler_counts_as_none_and_is_said_once(monkeypatch, capsys, fresh_compiler):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(compiler.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(compiler.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(compiler, "_apple_tools_installed", lambda: False)
    assert compiler.compiler() is None
    assert compiler.load("pixels") is None and compiler.load("maxpool") is None
    reason = ("no C compiler (/usr/bin/cc is Apple's stub until the command line tools are installed: "
              "xcode-select --install)")
    assert compiler.unavailable_reason("pixels") == reason
    assert capsys.readouterr().err == (f"cnnlab: note: {reason}; cnnlab uses torch's operators instead of its "
                                       "CPU kernels (the same results, slower for small models)\n")
    monkeypatch.setattr(compiler, "_apple_tools_installed", lambda: True)
    assert compiler.compiler() == "/usr/bin/cc"  # with the command line tools it is clang


def test_a_linux_machine_without_a_compiler_says_so(monkeypatch, capsys, fresh_compiler):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(compiler.platform, "system", lambda: "Linux")
    monkeypatch.setattr(compiler.shutil, "which", lambda name: None)
    assert compiler.load("pixels") is None
    assert "no C compiler (cc, gcc or clang) on PATH; cnnlab uses torch's operators" in capsys.readouterr().err
