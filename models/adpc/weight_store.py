"""One weights file per bundle, shared by every graph and the native programs.

A stage's dense-masked, plain and sparse graphs hold the same convolutions, and the dense
baseline holds the plain stages' folded ones again: stored once each, by content, the default
bundle shrinks by about a third. ONNX graphs point into the file through external data
(location, offset, length); native programs through [offset, count] (bytes, floats).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import onnx

ALIGN = 64  # every blob starts on a cache line, so it can be read as floats in place
MIN_EXTERNAL_BYTES = 256  # smaller initializers (shapes, scalars) stay inside their graph


class WeightStore:
    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self._offsets: Dict[bytes, Tuple[int, int]] = {}
        self._chunks: List[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> Tuple[int, int]:
        """(offset, length) of `data` in the file, stored once whatever the number of users."""
        key = hashlib.sha256(data).digest()
        if key not in self._offsets:
            pad = (-self._size) % ALIGN
            self._chunks.append(b"\0" * pad)
            self._offsets[key] = (self._size + pad, len(data))
            self._chunks.append(data)
            self._size += pad + len(data)
        return self._offsets[key]

    def add_floats(self, values: np.ndarray) -> List[int]:
        """[byte offset, float count] of a float32 array (native program references)."""
        flat = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
        offset, _ = self.add(flat.tobytes())
        return [offset, int(flat.size)]

    def externalise(self, graph_path: Path) -> None:
        """Moves a saved ONNX graph's initializers into the store (rewrites the graph file)."""
        model = onnx.load(str(graph_path))
        for init in model.graph.initializer:
            if init.data_location == onnx.TensorProto.EXTERNAL or len(init.raw_data) < MIN_EXTERNAL_BYTES:
                continue
            offset, length = self.add(init.raw_data)
            init.ClearField("raw_data")
            init.data_location = onnx.TensorProto.EXTERNAL
            del init.external_data[:]
            for key, value in (("location", self.name), ("offset", str(offset)), ("length", str(length))):
                entry = init.external_data.add()
                entry.key, entry.value = key, value
        onnx.save(model, str(graph_path))

    def close(self) -> int:
        with open(self.path, "wb") as f:
            for chunk in self._chunks:
                f.write(chunk)
        return self._size
