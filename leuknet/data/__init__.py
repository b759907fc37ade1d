"""Data: discovery of on-disk layouts, the synthetic demo set, splits and the tf.data pipeline."""

from leuknet.data.sources import Dataset, Sample, discover  # noqa: F401
