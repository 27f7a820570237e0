"""The data layer: sources → validated, channels-first :class:`Dataset`."""

from workbench.data.batching import Batch, LengthBucketSampler, TensorBatches, lengths_to_mask, pad_sequences
from workbench.data.dataset import IGNORE_INDEX, TASKS, Dataset, make_dataset
from workbench.data.doctor import ShapeReport, check_input, explain_shape
from workbench.data.layout import LAYOUTS, Layout, to_canonical
from workbench.data.sources import from_array, from_frame, list_datasets, load, read_file
from workbench.data.windows import windows

__all__ = [
    "IGNORE_INDEX",
    "LAYOUTS",
    "TASKS",
    "Batch",
    "Dataset",
    "Layout",
    "LengthBucketSampler",
    "ShapeReport",
    "TensorBatches",
    "check_input",
    "explain_shape",
    "from_array",
    "from_frame",
    "lengths_to_mask",
    "list_datasets",
    "load",
    "make_dataset",
    "pad_sequences",
    "read_file",
    "to_canonical",
    "windows",
]
