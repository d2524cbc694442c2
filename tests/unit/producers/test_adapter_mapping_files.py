"""A mistake in a mapping file is one line: the file, the line, the field, what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.adapters.files import MappingError, load

GOOD = """\
protocol: modbus
connection: {host: 127.0.0.1, port: 5020}
enterprises:
  - {id: qd-haier, name: Haier, city: qingdao, industry: appliances, cloud: true}
devices:
  - device_id: press01
    state: {address: 0}
    state_codes:
      6: running
      9: {state: down, reason: breakdown}
    count_total: {address: 1, type: uint32}
    count_good: {address: 3, type: uint32}
  - device_id: press02
    birth:
      enterprise: qd-haier
      plant_id: p1
      line_id: l1
      kind: stamping_press
      key_process: true
      numerically_controlled: true
      ideal_cycle_s: 4.8
    state: {address: 10}
    state_codes: {6: running}
    count_total: {address: 11, type: uint32}
    count_good: {address: 13, type: uint32}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "line1.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, GOOD))
    assert loaded.name == "line1.yaml"
    assert [d.device_id for d in loaded.mapping.devices] == ["press01", "press02"]
    assert loaded.mapping.devices[0].state_codes["9"].reason == "breakdown"
    assert [b.device_id for b in loaded.mapping.births()] == ["press02"]


@pytest.mark.parametrize(
    ("old", "new", "line", "says"),
    [
        ("protocol: modbus", "protocol: modbsu", 1, "protocol: one of modbus, opcua"),
        ("9: {state: down,", "9: {state: broken,", 10, "devices.0.state_codes.9.state: Input"),
        ("{address: 3, type: uint32}", "{address: 3, typ: uint32}", 12, "count_good.typ"),
        ("{address: 11, type", "{address: 70000, type", 24, "count_total.address: Input should"),
        ("enterprise: qd-haier", "enterprise: qd-haeir", 15, "'qd-haeir' is not among"),
        ("device_id: press02", "device_id: press01", 13, "press01 is mapped twice"),
        ("    count_good: {address: 13, type: uint32}\n", "", 13, "count_good: Field required"),
        ("devices:", "devices: [", 6, "not YAML"),
    ],
)
def test_a_mistake_is_one_line_naming_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, says: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(MappingError) as raised:
        load(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    assert says in message


def test_an_opcua_clients_certificate_and_key_are_found_beside_the_file(tmp_path: Path) -> None:
    text = GOOD.replace("protocol: modbus", "protocol: opcua").replace(
        "connection: {host: 127.0.0.1, port: 5020}",
        "connection: {endpoint: 'opc.tcp://plc:4840', security: Basic256Sha256_Sign,\n"
        "             certificate: certs/client.der, private_key: /etc/iiot/client.pem}",
    )
    for address in ("{address: 0}", "{address: 1, type: uint32}", "{address: 3, type: uint32}",
                    "{address: 10}", "{address: 11, type: uint32}",
                    "{address: 13, type: uint32}"):  # fmt: skip
        text = text.replace(address, "{node: 'ns=2;s=x'}")
    connection = load(write(tmp_path, text)).mapping.connection
    assert connection.certificate == str(tmp_path / "certs/client.der")  # type: ignore[union-attr]
    assert connection.private_key == "/etc/iiot/client.pem"  # type: ignore[union-attr]
