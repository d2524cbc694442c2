"""Mapping files: where each device's readings come from on one protocol (docs/integrating.md).

One file, one protocol and one connection; any number of devices. Per device: its id and,
if the adapter is to announce it, its registry fields; where the state, the two counters,
the ideal cycle time and each metric come from (a *point*: Modbus register, OPC UA node,
JSON path of an MQTT payload, Sparkplug metric), each with `scale` and `offset`
(value = raw × scale + offset); the state-code table from the device's own codes onto the
five states and a downtime reason; the sample interval.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from iiot.messages import CycleSeconds, DeviceBirth, Enterprise
from iiot.types import EntityId, MetricName, Name, State

_STRICT = ConfigDict(extra="forbid", frozen=True)

# A downtime reason: snake_case like a metric name (docs/contract.md).
ReasonCode = MetricName


class Scaled(BaseModel):
    """value = raw × scale + offset; counters are then rounded to whole parts."""

    model_config = _STRICT

    scale: float = 1.0
    offset: float = 0.0


class StateCode(BaseModel):
    """What one of the device's own state codes means."""

    model_config = _STRICT

    state: State
    reason: ReasonCode | None = None


class Birth(BaseModel):
    """The device's registry fields (a DeviceBirth without its id and interval, and the
    enterprise by id): given, the adapter announces the device when it starts."""

    model_config = _STRICT

    enterprise: EntityId = Field(description="An id of the file's `enterprises`.")
    plant_id: EntityId
    line_id: EntityId
    kind: EntityId
    key_process: bool
    numerically_controlled: bool
    ideal_cycle_s: CycleSeconds


P = TypeVar("P", bound=Scaled)


class DeviceMapping(BaseModel, Generic[P]):
    """One device: where each field of its reading comes from."""

    model_config = _STRICT

    device_id: EntityId
    sample_interval_s: Annotated[float, Field(gt=0, le=3_600)] = Field(
        1.0, description="Polled sources read the device this often; also its birth's interval."
    )
    birth: Birth | None = None
    state: P
    state_codes: dict[str, StateCode] = Field(
        description="The device's own state codes (numbers or text) onto the five states."
    )
    count_total: P
    count_good: P
    ideal_cycle_s: P | CycleSeconds | None = Field(
        None, description="A point, a constant, or absent (the registry's value is used)."
    )
    product: Name | None = None
    metrics: dict[MetricName, P] = Field(default_factory=dict)

    @field_validator("state_codes", mode="before")
    @classmethod
    def _codes_as_text(cls, codes: Any) -> Any:
        """YAML reads `1:` as a number: a code is compared as text (`code_text`); a state
        alone (`6: running`) is a state without a reason."""
        if isinstance(codes, dict):
            return {
                code_text(code): {"state": meaning} if isinstance(meaning, str) else meaning
                for code, meaning in codes.items()
            }
        return codes

    def points(self) -> dict[str, P]:
        """Every point to read, by field: state, count_total, count_good, ideal_cycle_s
        (if a point) and `metrics.<name>`."""
        points: dict[str, P] = {
            "state": self.state,
            "count_total": self.count_total,
            "count_good": self.count_good,
        }
        if isinstance(self.ideal_cycle_s, Scaled):
            points["ideal_cycle_s"] = self.ideal_cycle_s
        points.update({f"metrics.{name}": point for name, point in self.metrics.items()})
        return points


def code_text(code: object) -> str:
    """A state code as the table knows it: 3, 3.0 and "3" are the same code; True is not."""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


# -- Modbus TCP ---------------------------------------------------------------------------

RegisterType = Literal["uint16", "int16", "uint32", "int32", "float32"]
Order = Literal["big", "little"]


class ModbusPoint(Scaled):
    address: int = Field(ge=0, le=65_535, description="Register address, 0-based.")
    table: Literal["holding", "input"] = "holding"
    type: RegisterType = "uint16"
    word_order: Order = Field("big", description="32-bit types: which register comes first.")
    byte_order: Order = Field("big", description="Within each register.")


class ModbusDevice(DeviceMapping[ModbusPoint]):
    unit: int = Field(1, ge=0, le=255, description="Modbus unit (slave) id.")


class ModbusConnection(BaseModel):
    model_config = _STRICT

    host: str
    port: int = Field(502, ge=1, le=65_535)
    timeout_s: float = Field(3.0, gt=0)


# -- OPC UA -------------------------------------------------------------------------------


class OpcuaPoint(Scaled):
    node: str = Field(description='Node id, e.g. "ns=2;s=press01.state".')


class OpcuaDevice(DeviceMapping[OpcuaPoint]):
    pass


class OpcuaConnection(BaseModel):
    model_config = _STRICT

    endpoint: str = Field(description="opc.tcp://host:port/path")
    mode: Literal["subscribe", "poll"] = Field(
        "subscribe", description="Data-change subscription, or a read every sample interval."
    )
    security: Literal["None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"] = "None"
    certificate: str | None = Field(None, description="Client certificate (PEM/DER), if signed.")
    private_key: str | None = None
    username: str | None = None
    password: str | None = None
    timeout_s: float = Field(4.0, gt=0)


# -- MQTT, JSON payloads --------------------------------------------------------------------


class JsonPoint(Scaled):
    path: str = Field(description='Dotted path into the JSON payload, e.g. "counters.good".')


class MqttDevice(DeviceMapping[JsonPoint]):
    topic: str = Field(description="The topic the device publishes its readings on.")
    timestamp: str | None = Field(
        None, description="Path of the reading's time (ISO 8601 or epoch ms); else arrival."
    )


class MqttConnection(BaseModel):
    model_config = _STRICT

    host: str
    port: int = Field(1883, ge=1, le=65_535)
    username: str | None = None
    password: str | None = None
    client_id: str | None = Field(None, description="Default: iiot-adapter-<file name>.")
    qos: Literal[0, 1] = 1
    tls: bool = False


# -- MQTT, Sparkplug B ----------------------------------------------------------------------


class SparkplugPoint(Scaled):
    metric: str = Field(description='Metric name as in the DBIRTH, e.g. "Counters/Good".')


class SparkplugDevice(DeviceMapping[SparkplugPoint]):
    group: str = Field(description="Sparkplug group id.")
    edge_node: str
    device: str = Field(description="Sparkplug device id (spBv1.0/group/DDATA/node/device).")


# -- the file -----------------------------------------------------------------------------

D = TypeVar("D", bound=DeviceMapping[Any])


class _File(BaseModel, Generic[D]):
    model_config = _STRICT

    enterprises: list[Enterprise] = Field(
        default_factory=list, description="Given once; a device's birth names one by id."
    )
    devices: list[D] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> _File[D]:
        if not (info.context or {}).get("located"):  # else the loader names their lines
            for _loc, problem in self.problems():
                raise ValueError(problem)
        return self

    def problems(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """What the fields alone do not say is wrong, each where it is (`files.load` names
        its line): a device mapped twice, a birth naming an enterprise not in the file."""
        seen: set[str] = set()
        known = {enterprise.id for enterprise in self.enterprises}
        for i, device in enumerate(self.devices):
            if device.device_id in seen:
                yield ("devices", i, "device_id"), f"device {device.device_id} is mapped twice"
            seen.add(device.device_id)
            if device.birth is not None and device.birth.enterprise not in known:
                yield (
                    ("devices", i, "birth", "enterprise"),
                    f"enterprise {device.birth.enterprise!r} is not among the file's "
                    f"enterprises ({', '.join(sorted(known)) or 'none'})",
                )

    def births(self) -> list[DeviceBirth]:
        """The devices with registry fields, as the DeviceBirths the adapter announces."""
        enterprises = {enterprise.id: enterprise for enterprise in self.enterprises}
        return [
            DeviceBirth(
                device_id=device.device_id,
                sample_interval_s=device.sample_interval_s,
                **device.birth.model_dump(exclude={"enterprise"}),
                enterprise=enterprises[device.birth.enterprise],
            )
            for device in self.devices
            if device.birth is not None
        ]


class ModbusMapping(_File[ModbusDevice]):
    protocol: Literal["modbus"]
    connection: ModbusConnection


class OpcuaMapping(_File[OpcuaDevice]):
    protocol: Literal["opcua"]
    connection: OpcuaConnection


class MqttMapping(_File[MqttDevice]):
    protocol: Literal["mqtt"]
    connection: MqttConnection


class SparkplugMapping(_File[SparkplugDevice]):
    protocol: Literal["sparkplug"]
    connection: MqttConnection


Mapping = Annotated[
    ModbusMapping | OpcuaMapping | MqttMapping | SparkplugMapping,
    Field(discriminator="protocol"),
]
MAPPING: TypeAdapter[Mapping] = TypeAdapter(Mapping)
MODELS: dict[str, type[ModbusMapping | OpcuaMapping | MqttMapping | SparkplugMapping]] = {
    "modbus": ModbusMapping,
    "opcua": OpcuaMapping,
    "mqtt": MqttMapping,
    "sparkplug": SparkplugMapping,
}
