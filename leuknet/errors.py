"""Typed errors. Library code raises these; the CLI turns them into one line and exit status 2."""


class LeuknetError(Exception):
    """An error the user can act on (bad input, missing file, impossible option)."""


class DataError(LeuknetError):
    """Missing, empty or unusable data."""


class ConfigError(LeuknetError):
    """An option or combination of options that cannot work."""


class ModelFileError(LeuknetError):
    """A model or weights file that cannot be read."""


class DeviceError(LeuknetError):
    """A requested device or precision that this machine does not have."""


class InUseError(LeuknetError):
    """A directory, file or cache entry that another live process holds (its pid and host in the message)."""

    def __init__(self, message, path=None, owner=None):
        super().__init__(message)
        self.path, self.owner = path, owner or {}


class RunInUse(InUseError):
    """A run directory (``--out``) that another process is writing."""
