"""The data layer: sources → validated, channels-first :class:`Dataset` (names loaded on first use)."""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_attributes

_NAMES = {
    "Batch": "workbench.data.batching",
    "LengthBucketSampler": "workbench.data.batching",
    "TensorBatches": "workbench.data.batching",
    "lengths_to_mask": "workbench.data.batching",
    "pad_sequences": "workbench.data.batching",
    "IGNORE_INDEX": "workbench.data.labels",
    "TASKS": "workbench.data.labels",
    "Dataset": "workbench.data.dataset",
    "make_dataset": "workbench.data.dataset",
    "ShapeReport": "workbench.data.doctor",
    "check_input": "workbench.data.doctor",
    "explain_shape": "workbench.data.doctor",
    "LAYOUTS": "workbench.data.layout",
    "Layout": "workbench.data.layout",
    "to_canonical": "workbench.data.layout",
    "from_array": "workbench.data.frames",
    "from_frame": "workbench.data.frames",
    "list_datasets": "workbench.data.builtins",
    "load": "workbench.data.sources",
    "read_file": "workbench.data.files",
    "windows": "workbench.data.windowing",
}
__getattr__ = lazy_attributes(__name__, _NAMES)
__all__ = sorted(_NAMES)

if TYPE_CHECKING:  # what type checkers and IDEs see
    from workbench.data.batching import (
        Batch as Batch,
        LengthBucketSampler as LengthBucketSampler,
        TensorBatches as TensorBatches,
        lengths_to_mask as lengths_to_mask,
        pad_sequences as pad_sequences,
    )
    from workbench.data.builtins import list_datasets as list_datasets
    from workbench.data.dataset import Dataset as Dataset, make_dataset as make_dataset
    from workbench.data.doctor import (
        ShapeReport as ShapeReport,
        check_input as check_input,
        explain_shape as explain_shape,
    )
    from workbench.data.files import read_file as read_file
    from workbench.data.frames import from_array as from_array, from_frame as from_frame
    from workbench.data.labels import IGNORE_INDEX as IGNORE_INDEX, TASKS as TASKS
    from workbench.data.layout import LAYOUTS as LAYOUTS, Layout as Layout, to_canonical as to_canonical
    from workbench.data.sources import load as load
    from workbench.data.windowing import windows as windows
