"""A faithful local emulator of a vendor endpoint, served over real HTTP.

Driven by the vendor's contract alone: it checks the credential the way the vendor does,
validates the body against the contract's JSON Schema with ``jsonschema`` (an implementation
independent of the importer's pandera schema), answers 409 for a key it already holds, and
answers errors in the vendor's own shape. ``GET /__sandbox__/records`` lists what it stored,
each body exactly as received. Faults (latency, errors) are injected only when asked for.
"""

from importer.sandbox.emulator import RECORDS_PATH, Emulator
from importer.sandbox.options import SandboxOptions
from importer.sandbox.server import EmbeddedSandbox, serve, start_site

__all__ = ["RECORDS_PATH", "EmbeddedSandbox", "Emulator", "SandboxOptions", "serve", "start_site"]
