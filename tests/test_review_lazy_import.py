"""Hostile review of the lazy `import cnnlab`: what `import cnnlab` gave before it was lazy
still works, and it still loads nothing heavy."""

import subprocess
import sys


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_documented_submodule_paths_work_after_import_cnnlab_alone():
    # docs/run-folder.md: "cnnlab.models.layers.ModelSpec.from_dict reads it"
    done = run_python(
        "import sys, cnnlab\n"
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules, 'import cnnlab is light'\n"
        "spec = cnnlab.models.layers.ModelSpec.from_dict(cnnlab.load_model('mnist_convnet').to_dict())\n"
        "print(spec.name, cnnlab.datasets.load_dataset is cnnlab.load_dataset,\n"
        "      cnnlab.errors.CnnlabError is cnnlab.CnnlabError)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mnist_convnet", "True", "True"]


def test_a_name_that_is_no_submodule_is_still_an_attribute_error():
    done = run_python(
        "import cnnlab\n"
        "print(hasattr(cnnlab, 'no_such_thing'), hasattr(cnnlab, '__wrapped__'))\n"
        "try:\n"
        "    cnnlab.no_such_thing\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False False", "module 'cnnlab' has no attribute 'no_such_thing'"]
