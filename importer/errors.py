"""The exceptions that stop a run, sorted by what the caller does next.

Bad rows are never exceptions: they become ``failed`` rows. Only what makes the whole run
meaningless raises, and the CLI turns each into a one-line message and exit code 2::

    ImporterError
     ├── ConfigError            fix the command line or the environment, then run again
     │    ├── UnknownVendor
     │    ├── MissingCredential
     │    ├── UnusableCredential  a line break, control or non-ASCII character in a credential
     │    ├── MappingError      no column (and no --set) for a required field
     │    └── JobFileError      a job file is not valid TOML, has an unknown key, or a secret
     ├── InputError             fix or re-export the file, then run again
     ├── ReportError            free the disk (or fix --out), then rebuild the report
     └── VendorError            the vendor refused the whole run
          └── AuthError         401/403: the credential is wrong or lacks rights

Retryable vendor failures (429, 5xx, transport errors) are handled inside ``push`` and never
reach the caller.
"""

from __future__ import annotations


class ImporterError(Exception):
    """Base of every error that aborts a run; its message is one line for a person."""


class ConfigError(ImporterError):
    """Raised when the command line, a mapping file or the environment is wrong."""


class UnknownVendor(ConfigError):
    """Raised when a vendor id names no contract file."""


class MissingCredential(ConfigError):
    """Raised when an environment variable the vendor needs is unset or empty."""


class UnusableCredential(ConfigError):
    """Raised when a credential holds what no HTTP header can carry (its value is never shown)."""


class MappingError(ConfigError):
    """Raised when a required vendor field has no column and no constant."""


class JobFileError(ConfigError):
    """Raised when a job file cannot be used: bad TOML, an unknown key or value, a secret."""


class InputError(ImporterError):
    """Raised when the input file cannot be read as a sheet."""


class ReportError(ImporterError):
    """Raised when the report cannot be written (a full disk); the ledger keeps every outcome."""


class VendorError(ImporterError):
    """Raised when the vendor refuses the whole run."""


class AuthError(VendorError):
    """Raised when the vendor answers 401 or 403: the credential is wrong or lacks rights."""
