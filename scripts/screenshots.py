"""README's pictures: the UI over the instance `make run` leaves, in Debian's Chromium.

Usage: python scripts/screenshots.py docs/img   (DAGSTER_HOME, MERIDIAN_LANDING, MERIDIAN_LAKE
from the environment, as the Makefile sets them).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from meridian_assets_tests.webui import browser_page, open_lineage, shoot, webserver


def main(folder: Path) -> None:
    env = {name: os.environ[name] for name in ("MERIDIAN_LANDING", "MERIDIAN_LAKE")}
    with tempfile.TemporaryDirectory() as scratch, \
            webserver(Path(os.environ["DAGSTER_HOME"]), env, Path(scratch) / "webserver.log") as server, \
            browser_page(server.url) as page:
        open_lineage(page)
        print(shoot(page, folder, "lineage"))
        page.goto("/assets/ml_feature_table?view=checks")
        page.get_by_text("Execute all").wait_for()
        print(shoot(page, folder, "ml_feature_table_checks"))
        page.goto("/assets/deployed_model")
        page.get_by_text("outcome", exact=True).first.wait_for()
        print(shoot(page, folder, "deployed_model"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
