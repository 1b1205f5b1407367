"""The documentation site builds strictly (no broken link, no page left out of the nav), and its
settings page, generated from `rag/settings.py`, lists every setting."""

from __future__ import annotations

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
    missing = [v for v in variables if f"<code>{v}</code>" not in page]
    assert not missing, f"docs/settings.md's generated table lacks {', '.join(missing)}"
    assert "<!-- settings-table -->" not in page


def test_the_readme_stays_short():
    lines = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 150, f"README.md has {len(lines)} lines; move detail into docs/"
