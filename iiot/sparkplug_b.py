"""Sparkplug B (Eclipse Sparkplug 3.0): its topics and its protobuf payload, shared by the
adapter (producers/adapters/sparkplug.py) and the served simulator (simulators/serve).

The payload is the specification's `Payload` message (proto2, field numbers as the
specification's `sparkplug_b.proto`), of which this module declares the part the pipeline
reads and writes: the payload's timestamp and seq, and metrics by name or alias with a
datatype and a scalar value or null. Other fields (metadata, properties, data sets,
templates) are skipped when read. The message classes are built at import from a descriptor
declared here, in a pool of their own: no generated code, no protoc, any protobuf ≥ 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

NAMESPACE = "spBv1.0"
BD_SEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
MESSAGE_TYPES = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD")


class DataType(IntEnum):
    """The specification's metric datatypes (the scalar ones)."""

    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    BYTES = 17
    FILE = 18


_INT32 = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32}
_UINT32 = (DataType.UINT8, DataType.UINT16, DataType.UINT32)
_INT64 = (DataType.INT64, DataType.UINT64, DataType.DATETIME)
_STRING = (DataType.STRING, DataType.TEXT, DataType.UUID)
_BYTES = (DataType.BYTES, DataType.FILE)

Value = int | float | bool | str | bytes | None


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: a birth names it (and may give an alias); data may carry the alias only.
    `value` None is a null (`is_null`)."""

    name: str | None
    datatype: DataType
    value: Value
    alias: int | None = None
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class Payload:
    timestamp: int | None  # ms since the epoch
    seq: int | None  # 0–255; absent in an NDEATH
    metrics: tuple[Metric, ...] = ()


class PayloadError(ValueError):
    """Bytes that are not a Sparkplug B payload."""


def _message_classes() -> tuple[Any, Any]:
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="iiot/sparkplug_b.proto", package="iiot.sparkplug_b", syntax="proto2"
    )
    payload = file.message_type.add(name="Payload")
    metric = payload.nested_type.add(name="Metric")
    metric.oneof_decl.add(name="value")
    optional, repeated = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    for name, number, kind in (
        ("name", 1, F.TYPE_STRING),
        ("alias", 2, F.TYPE_UINT64),
        ("timestamp", 3, F.TYPE_UINT64),
        ("datatype", 4, F.TYPE_UINT32),
        ("is_historical", 5, F.TYPE_BOOL),
        ("is_transient", 6, F.TYPE_BOOL),
        ("is_null", 7, F.TYPE_BOOL),
    ):
        metric.field.add(name=name, number=number, type=kind, label=optional)
    for name, number, kind in (
        ("int_value", 10, F.TYPE_UINT32),
        ("long_value", 11, F.TYPE_UINT64),
        ("float_value", 12, F.TYPE_FLOAT),
        ("double_value", 13, F.TYPE_DOUBLE),
        ("boolean_value", 14, F.TYPE_BOOL),
        ("string_value", 15, F.TYPE_STRING),
        ("bytes_value", 16, F.TYPE_BYTES),
    ):
        metric.field.add(name=name, number=number, type=kind, label=optional, oneof_index=0)
    payload.field.add(name="timestamp", number=1, type=F.TYPE_UINT64, label=optional)
    payload.field.add(
        name="metrics",
        number=2,
        type=F.TYPE_MESSAGE,
        label=repeated,
        type_name=".iiot.sparkplug_b.Payload.Metric",
    )
    payload.field.add(name="seq", number=3, type=F.TYPE_UINT64, label=optional)
    payload.field.add(name="uuid", number=4, type=F.TYPE_STRING, label=optional)
    payload.field.add(name="body", number=5, type=F.TYPE_BYTES, label=optional)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    payload_class: Any = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("iiot.sparkplug_b.Payload")
    )
    metric_class: Any = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("iiot.sparkplug_b.Payload.Metric")
    )
    return payload_class, metric_class


_PAYLOAD, _METRIC = _message_classes()


def encode(payload: Payload) -> bytes:
    message = _PAYLOAD()
    if payload.timestamp is not None:
        message.timestamp = payload.timestamp
    if payload.seq is not None:
        message.seq = payload.seq
    for metric in payload.metrics:
        _set_metric(message.metrics.add(), metric)
    data: bytes = message.SerializeToString()
    return data


def _set_metric(out: Any, metric: Metric) -> None:
    if metric.name is not None:
        out.name = metric.name
    if metric.alias is not None:
        out.alias = metric.alias
    if metric.timestamp is not None:
        out.timestamp = metric.timestamp
    out.datatype = int(metric.datatype)
    value, kind = metric.value, metric.datatype
    if value is None:
        out.is_null = True
    elif kind in _INT32:
        out.int_value = int(value) & 0xFFFFFFFF  # two's complement, as the spec says
    elif kind in _UINT32:
        out.int_value = int(value)
    elif kind in _INT64:
        out.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif kind is DataType.FLOAT:
        out.float_value = float(value)
    elif kind is DataType.DOUBLE:
        out.double_value = float(value)
    elif kind is DataType.BOOLEAN:
        out.boolean_value = bool(value)
    elif kind in _STRING:
        out.string_value = str(value)
    elif kind in _BYTES:
        out.bytes_value = bytes(value)  # type: ignore[arg-type]
    else:  # pragma: no cover - every DataType is handled above
        raise ValueError(f"datatype {kind!r} is not written")


def decode(data: bytes) -> Payload:
    """The payload of `data`; a metric of a datatype not declared here has value None."""
    message = _PAYLOAD()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise PayloadError(f"not a Sparkplug B payload: {exc}") from None
    return Payload(
        timestamp=message.timestamp if message.HasField("timestamp") else None,
        seq=message.seq if message.HasField("seq") else None,
        metrics=tuple(_metric(metric) for metric in message.metrics),
    )


def _metric(metric: Any) -> Metric:
    try:
        kind = DataType(metric.datatype)
    except ValueError:
        kind = None
    return Metric(
        name=metric.name if metric.HasField("name") else None,
        alias=metric.alias if metric.HasField("alias") else None,
        timestamp=metric.timestamp if metric.HasField("timestamp") else None,
        datatype=kind if kind is not None else DataType.BYTES,
        value=None if kind is None or metric.is_null else _value(metric, kind),
    )


def _value(metric: Any, kind: DataType) -> Value:
    if kind in _INT32:
        bits = _INT32[kind]
        raw = int(metric.int_value) & ((1 << bits) - 1)
        return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw
    if kind in _UINT32:
        return int(metric.int_value)
    if kind is DataType.INT64:
        raw = int(metric.long_value)
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind in _INT64:
        return int(metric.long_value)
    if kind is DataType.FLOAT:
        return float(metric.float_value)
    if kind is DataType.DOUBLE:
        return float(metric.double_value)
    if kind is DataType.BOOLEAN:
        return bool(metric.boolean_value)
    if kind in _STRING:
        return str(metric.string_value)
    return bytes(metric.bytes_value)


# -- topics ---------------------------------------------------------------------------------


class Topic(NamedTuple):
    """spBv1.0/<group>/<message type>/<edge node>[/<device>]"""

    group: str
    message_type: str
    edge_node: str
    device: str | None = None

    def __str__(self) -> str:
        parts = [NAMESPACE, self.group, self.message_type, self.edge_node]
        if self.device is not None:
            parts.append(self.device)
        return "/".join(parts)


def parse_topic(topic: str) -> Topic | None:
    """The parts of a Sparkplug B topic; None for any other topic (STATE among them)."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[2] not in MESSAGE_TYPES:
        return None
    return Topic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def rebirth_request(timestamp_ms: int) -> bytes:
    """An NCMD payload asking an edge node to publish its births again."""
    return encode(Payload(timestamp_ms, None, (Metric(REBIRTH, DataType.BOOLEAN, True),)))
