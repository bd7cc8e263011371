"""Fixed-width text columns read in place as bytes: record ids (36-character UUIDs) and hex digests.

Both `lineage.lookup` (one id in a row group, on trace's path, which must not import
`pyarrow.compute`) and `lineage.rowkeys` (whole id sets, in verify) compare such columns as
numpy bytes; this is the one reading of an Arrow string column's buffers they share.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def fixed_width_text(column: pa.Array) -> tuple[np.ndarray, int] | None:
    """(the column's text bytes, the byte width of each value), read in place, when the column is a
    non-empty `string` array whose values all have one width ≥ 1 and none is null; else None."""
    n = len(column)
    if column.type != pa.string() or column.null_count or n == 0:
        return None
    offsets = np.frombuffer(column.buffers()[1], np.int32, n + 1, column.offset * 4)
    width = int(offsets[1] - offsets[0])
    data = column.buffers()[2]
    if data is None or width == 0 or int(offsets[-1] - offsets[0]) != width * n:
        return None
    if not (np.diff(offsets) == width).all():
        return None
    return np.frombuffer(data, np.uint8, width * n, int(offsets[0])), width
