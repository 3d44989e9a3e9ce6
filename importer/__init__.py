"""Bulk-import CSV and Excel sheets into vendors' HTTP APIs, accounting for every row.

The public, typed API, for a script or an orchestrator's task::

    from importer import RunConfig, run_import, run_import_async

    config = RunConfig(sheet_path=Path("leads.csv"), vendor="offergrid-leads",
                       out_dir=Path("out"), base_url="https://api.example.com")
    result = run_import(config, env=os.environ)          # blocks; works inside a running loop
    result = await run_import_async(config, env=os.environ)   # in async code
    result.totals.created, result.files.rows_csv, result.exit_code

Credentials come from ``env`` (a mapping such as ``os.environ``), never from the config. A run
that cannot start raises an ``ImporterError`` (``ConfigError``, ``InputError``...); bad rows
are data: ``result.totals`` counts them and the report lists each with its reason.
"""

from importer.config import RunConfig
from importer.errors import ConfigError, ImporterError, InputError, MappingError
from importer.pipeline.inspect import Inspection, inspect_sheet
from importer.pipeline.progress import NullObserver, Observer
from importer.pipeline.run import RunResult, run_import, run_import_async
from importer.push.settings import PushSettings
from importer.read.limits import ReadLimits

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ImporterError",
    "InputError",
    "Inspection",
    "MappingError",
    "NullObserver",
    "Observer",
    "PushSettings",
    "ReadLimits",
    "RunConfig",
    "RunResult",
    "__version__",
    "inspect_sheet",
    "run_import",
    "run_import_async",
]
