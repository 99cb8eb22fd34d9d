"""Our JSON description inside a ``.tflite`` file: the flatbuffer's metadata table, entry :data:`METADATA_NAME`.

:func:`embed` (at export, with TensorFlow) adds the JSON as a buffer named in ``Model.metadata``; :func:`read` gets
it back with a small bounds-checked flatbuffer reader in pure Python, so a phone-side tool, a board with only
LiteRT, or ``tflite_benchmark`` can read a model's description without TensorFlow. Anything that is not a TFLite
flatbuffer — truncated, random or foreign bytes — raises :class:`MetadataError`, never anything else.
"""

from __future__ import annotations

import json
import os
import struct

#: The name of our entry in the model's metadata table.
METADATA_NAME = "tfgancomp"
#: The TFLite flatbuffer file identifier (bytes 4..8).
FILE_IDENTIFIER = b"TFL3"

# Field indexes of the TFLite schema (tensorflow/lite/schema/schema.fbs) that the reader needs.
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
_METADATA_NAME, _METADATA_BUFFER = 0, 1


class MetadataError(ValueError):
    """A file or buffer that is not a TFLite model, or a model without (valid) metadata of ours."""


class _Reader:
    """Bounds-checked access to the tables of a flatbuffer."""

    def __init__(self, data: bytes, what: str):
        self.data, self.what = data, what

    def _fail(self, detail: str):
        raise MetadataError(f"{self.what} is not a valid TFLite flatbuffer: {detail}")

    def unpack(self, fmt: str, pos: int):
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            self._fail(f"reference to byte {pos} outside the {len(self.data)}-byte file")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of a table field, or ``None`` when the field is absent."""
        vtable = table - self.unpack("<i", table)
        vtable_size = self.unpack("<H", vtable)
        if vtable_size < 4 or vtable_size % 2:
            self._fail(f"vtable size {vtable_size} at byte {vtable}")
        slot = 4 + 2 * index
        if slot + 2 > vtable_size:
            return None
        offset = self.unpack("<H", vtable + slot)
        return table + offset if offset else None

    def indirect(self, pos: int) -> int:
        return pos + self.unpack("<I", pos)

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """``(first element position, length)`` of a vector field; ``(0, 0)`` when absent."""
        pos = self.field(table, index)
        if pos is None:
            return 0, 0
        start = self.indirect(pos)
        length = self.unpack("<I", start)
        if start + 4 + length > len(self.data):
            self._fail(f"a vector of {length} elements at byte {start} runs past the end of the file")
        return start + 4, length

    def table_at(self, element: int) -> int:
        return self.indirect(element)

    def string(self, table: int, index: int) -> str | None:
        start, length = self.vector(table, index)
        if not start:
            return None
        try:
            return self.data[start : start + length].decode("utf-8")
        except UnicodeDecodeError:
            self._fail(f"a string at byte {start} is not UTF-8")

    def scalar(self, table: int, index: int, fmt: str, default=0):
        pos = self.field(table, index)
        return default if pos is None else self.unpack(fmt, pos)


def _load(model) -> tuple[bytes, str]:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), "the model bytes"
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise MetadataError(f"{path} does not exist or is not a file")
    with open(path, "rb") as f:
        return f.read(), path


def _tables(model):
    """``(reader, buffers start, buffers count, metadata start, metadata count)`` of a TFLite model."""
    data, what = _load(model)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise MetadataError(f"{what} is not a TFLite model (no {FILE_IDENTIFIER.decode()} file identifier)")
    reader = _Reader(data, what)
    root = reader.indirect(0)
    return (reader, *reader.vector(root, _MODEL_BUFFERS), *reader.vector(root, _MODEL_METADATA))


def entries(model) -> dict[str, bytes]:
    """Every metadata entry of a TFLite model (bytes or path): ``{name: content}``.

    Raises:
        MetadataError: when ``model`` is not a TFLite flatbuffer (naming the file and what is wrong).
    """
    reader, buffers_start, buffers_count, meta_start, meta_count = _tables(model)
    data = reader.data
    out = {}
    for i in range(meta_count):
        entry = reader.table_at(meta_start + 4 * i)
        name = reader.string(entry, _METADATA_NAME)
        index = reader.scalar(entry, _METADATA_BUFFER, "<I")
        if name is None:
            continue
        if index >= buffers_count:
            reader._fail(f"metadata {name!r} points at buffer {index} of {buffers_count}")
        buffer = reader.table_at(buffers_start + 4 * index)
        start, length = reader.vector(buffer, _BUFFER_DATA)
        if start:
            out[name] = data[start : start + length]
            continue
        offset, size = reader.scalar(buffer, _BUFFER_OFFSET, "<Q"), reader.scalar(buffer, _BUFFER_SIZE, "<Q")
        if offset > 1 and offset + size <= len(data):  # large models keep buffers after the flatbuffer
            out[name] = data[offset : offset + size]
        else:
            out[name] = b""
    return out


def weight_bytes(model) -> int:
    """Bytes of a TFLite model's constant buffers (weights), metadata buffers excluded.

    The figure to compare precisions by: a small model's file is dominated by the flatbuffer's fixed overhead.
    """
    reader, buffers_start, buffers_count, meta_start, meta_count = _tables(model)
    skip = {reader.scalar(reader.table_at(meta_start + 4 * i), _METADATA_BUFFER, "<I") for i in range(meta_count)}
    total = 0
    for index in range(buffers_count):
        if index in skip:
            continue
        buffer = reader.table_at(buffers_start + 4 * index)
        _, length = reader.vector(buffer, _BUFFER_DATA)
        total += length or reader.scalar(buffer, _BUFFER_SIZE, "<Q")
    return total


def read(model, name: str = METADATA_NAME) -> dict:
    """The JSON object stored under ``name`` in a TFLite model (path or bytes), exactly as it was written.

    Raises:
        MetadataError: for a file that is not a TFLite model, a model without that entry (listing the entries it
            has), or an entry that is not a JSON object.
    """
    found = entries(model)
    what = "the model bytes" if isinstance(model, (bytes, bytearray, memoryview)) else os.fspath(model)
    if name not in found:
        have = ", ".join(sorted(found)) or "none"
        raise MetadataError(f"{what} has no {name!r} metadata (its metadata entries: {have})")
    try:
        value = json.loads(found[name].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MetadataError(f"{what}: metadata {name!r} is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise MetadataError(f"{what}: metadata {name!r} is not a JSON object")
    return value


def embed(tflite_model: bytes, description: dict, name: str = METADATA_NAME) -> bytes:
    """A copy of ``tflite_model`` with ``description`` (JSON-serializable dict) stored as metadata ``name``.

    An existing entry of that name is replaced. Needs TensorFlow (its flatbuffer schema); :func:`read` does not.
    """
    from mobile_export._backend import flatbuffer_tools

    schema, flatbuffer_utils = flatbuffer_tools()

    if not isinstance(description, dict):
        raise ValueError(f"metadata must be a JSON object (dict), got {type(description).__name__}")
    entries(tflite_model)  # a clear error for bytes that are not a model
    content = json.dumps(description, sort_keys=True).encode("utf-8")
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_model))
    buffer = schema.BufferT()
    buffer.data = list(content)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    kept = [m for m in (model.metadata or []) if (m.name.decode() if isinstance(m.name, bytes) else m.name) != name]
    model.metadata = kept + [entry]
    return flatbuffer_utils.convert_object_to_bytearray(model)
