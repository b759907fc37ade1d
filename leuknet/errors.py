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
