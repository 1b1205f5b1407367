"""The documentation site builds strictly (no broken link, no page left out of the nav), its
settings page, generated from `rag/settings.py`, lists every setting, and every file the docs
name exists."""

from __future__ import annotations

import re
import subprocess
import sys

from rag.settings import PROJECT_ROOT, Settings


def test_docs_build_strictly_and_list_every_setting(tmp_path):
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}\n{build.stderr}"

    page = (site / "settings" / "index.html").read_text(encoding="utf-8")
    prefix = Settings.model_config["env_prefix"]
    variables = [(prefix + name).upper() for name in Settings.model_fields]
    rows = page[page.index("<table>"):page.index("</table>")]  # the generated table, not the prose
    missing = [v for v in variables if f"<td><code>{v}</code></td>" not in rows]
    assert not missing, f"docs/settings.md's generated table lacks {', '.join(missing)}"
    assert "<!-- settings-table -->" not in page


def test_the_readme_stays_short():
    lines = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 150, f"README.md has {len(lines)} lines; move detail into docs/"


# A path the docs name in backticks: a file or folder of the repository.
_NAMED_PATH = re.compile(r"`((?:rag|ui|tests|benchmarks|eval|prompts|scripts|seeds|docs)/[\w./-]*)`")
_MADE_AT_RUN_TIME = ("eval/reports/",)


def test_every_path_the_docs_name_exists():
    pages = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "CONTRIBUTING.md",
             *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    missing = []
    for page in pages:
        for path in _NAMED_PATH.findall(page.read_text(encoding="utf-8")):
            if not path.startswith(_MADE_AT_RUN_TIME) and not (PROJECT_ROOT / path).exists():
                missing.append(f"{page.name}: {path}")
    assert not missing, f"paths named in the docs that do not exist: {missing}"
