"""Layers stack and nothing imports in a circle: the import-linter contracts in pyproject.toml, run
as `lint-imports` (a real tool, the same one a developer runs)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_layers_stack_and_no_siblings_import_each_other():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a test dependency: `make install` installs it"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_nothing_imports_the_worker_script():
    """worker.py is a command; the factory lives in starter.worker."""
    for path in [*ROOT.glob("*/**/*.py")]:
        if ".venv" in path.parts or path.name == "test_layers.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "from worker import" not in text and "import worker\n" not in text, path
