"""Print the dependencies declared in pyproject.toml, one per line, for pip.

The project is not installable (its `datasets` app would shadow HuggingFace's
`datasets`), so `make install` feeds these lines to `pip install -r -`.
"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
print("\n".join(requirements))
