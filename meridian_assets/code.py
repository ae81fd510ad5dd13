"""What the UI knows of the code behind an asset: a version that follows its source."""

import hashlib
import inspect
from types import ModuleType


def source_version(*modules: ModuleType) -> str:
    """A digest of these modules' source: when it changes, the UI marks partitions made by the
    old code as stale ("code version changed"), so nobody has to remember to bump a number."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:12]
