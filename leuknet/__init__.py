"""leuknet: MATLAB-parity reproductions of the leukaemia-blast CNNs (LeukNet, AlexNet transfer learning, ...)."""

__version__ = "0.1.0"

from leuknet.errors import ConfigError, DataError, DeviceError, LeuknetError, ModelFileError  # noqa: E402,F401
