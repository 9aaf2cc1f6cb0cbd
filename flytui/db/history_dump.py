"""Prints an Alembic project's revisions as JSON, run by the **project's** Python (standalone: no flytui imports).

Used when the revision modules do not import in flytui's own Python (they import the app, which needs the
project's dependencies). Input: ``FLYTUI_HISTORY`` = JSON ``{"script_location": ..., "version_locations": [...],
"prepend_sys_path": [...]}``. Output: one line ``FLYTUI-HISTORY [{...}, ...]`` on stdout.
"""

import json
import os
import sys
from typing import Any, Dict, List  # the project's Python may predate PEP 585


def main() -> None:
    spec = json.loads(os.environ["FLYTUI_HISTORY"])
    sys.path[0] = os.getcwd()  # not this script's folder
    sys.path[:0] = spec.get("prepend_sys_path", [])
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", spec["script_location"])
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(spec["version_locations"]))
    out: List[Dict[str, Any]] = []

    def listify(value: Any) -> List[str]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value]

    for sc in ScriptDirectory.from_config(cfg).walk_revisions():
        out.append({"id": sc.revision, "down": listify(sc.down_revision), "doc": sc.longdoc or "",
                    "path": os.path.abspath(sc.path),
                    "branch_labels": sorted(getattr(sc, "_orig_branch_labels", sc.branch_labels) or []),
                    "depends_on": listify(sc.dependencies)})
    sys.stdout.write("FLYTUI-HISTORY " + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
