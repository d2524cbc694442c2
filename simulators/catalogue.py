"""What the simulated province is made of: equipment kinds, industries and enterprises.

Enterprise names are Shandong-like and illustrative (the industries per city of
docs/architecture.md); they are sample data, not claims about those companies' shop floors.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One kind of equipment and how it behaves on the floor."""

    kind: str  # the registry's `kind`, e.g. stamping_press
    abbr: str  # short name in device ids: qd-haier-p1-l2-press03
    sample_interval_s: float
    base_cycle_s: float  # ideal seconds per part for a product of factor 1.0
    rated_kw: float
    temp_running_c: float  # where the machine's temperature settles while it runs
    process_metric: str  # the kind's own process value, besides power, temperature, vibration
    process_running: float
    process_idle: float
    key_process: bool  # 关键工序 in the industries modelled here
    always_nc: bool  # numerically controlled by nature (a CNC centre is NC by definition)


KINDS: dict[str, KindSpec] = {
    k.abbr: k
    for k in (
        KindSpec("cnc_machining_centre", "cnc", 5, 90, 15, 48, "spindle_rpm", 8_000, 0, True, True),
        KindSpec(
            "injection_moulding", "mould", 5, 30, 30, 60, "hydraulic_bar", 140, 20, True, True
        ),
        KindSpec("smt_placement", "smt", 2, 25, 8, 38, "placement_rate_cph", 30_000, 0, True, True),
        KindSpec("stamping_press", "press", 2, 4, 22, 42, "hydraulic_bar", 180, 15, True, False),
        KindSpec("packaging", "pack", 5, 10, 4, 32, "line_speed_ppm", 6, 0, False, False),
        KindSpec("assembly_station", "asm", 10, 45, 2, 28, "torque_nm", 2.5, 0, False, False),
        KindSpec("test_station", "test", 10, 60, 1.5, 30, "test_voltage_v", 220, 0, True, False),
    )
}


@dataclass(frozen=True, slots=True)
class Industry:
    name: str
    line: tuple[str, ...]  # kinds (abbr) of one line, in flow order
    products: tuple[tuple[str, float], ...]  # (product, cycle factor against the kind's base)


INDUSTRIES: dict[str, Industry] = {
    i.name: i
    for i in (
        Industry(
            "smart appliances",
            ("press", "press", "cnc", "mould", "asm", "asm", "test", "pack"),
            (("FRIDGE-DOOR-A", 1.2), ("WASHER-DRUM-B", 1.0), ("AC-PANEL-C", 0.8)),
        ),
        Industry(
            "software and servers",
            ("smt", "smt", "asm", "asm", "test", "test", "pack"),
            (("SERVER-2U-A", 1.4), ("MOBO-X86-B", 1.0), ("PSU-800W-C", 0.9)),
        ),
        Industry(
            "computers and networking",
            ("cnc", "cnc", "smt", "smt", "asm", "test", "pack"),
            (("SWITCH-24P-A", 1.0), ("ROUTER-AX-B", 0.8), ("LAPTOP-MB-C", 1.3)),
        ),
        Industry(
            "peripherals",
            ("mould", "smt", "asm", "asm", "test", "pack"),
            (("PRINTER-TH80-A", 1.1), ("SCANNER-A4-B", 1.2), ("KEYBOARD-K1-C", 0.7)),
        ),
        Industry(
            "electro-acoustics",
            ("mould", "smt", "smt", "asm", "asm", "test", "pack"),
            (("MIC-MEMS-A", 0.6), ("SPEAKER-BOX-B", 1.0), ("TWS-EARBUD-C", 0.9)),
        ),
        Industry(
            "electronic components",
            ("press", "mould", "smt", "test", "pack"),
            (("MLCC-0402-A", 0.5), ("INDUCTOR-P1-B", 0.8), ("RELAY-5V-C", 1.0)),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class EnterpriseSpec:
    """An enterprise; how far it has digitized (cloud, NC, devices connected) comes from its
    maturity level, dealt by the run's seed (simulators/maturity.py)."""

    id: str
    name: str
    city: str  # lower-case pinyin, as the contract asks
    industry: str
    shifts: int  # 3 = round the clock, 2 = day and evening (nights are planned stops)


# Interleaved by city, so a small province still spans several cities and industries.
ENTERPRISES: tuple[EnterpriseSpec, ...] = (
    EnterpriseSpec("qd-haier", "海尔智家 Haier Smart Home", "qingdao", "smart appliances", 3),
    EnterpriseSpec("jn-inspur", "浪潮 Inspur", "jinan", "software and servers", 3),
    EnterpriseSpec(
        "yt-foxconn", "富士康烟台 Foxconn Yantai", "yantai", "computers and networking", 3
    ),
    EnterpriseSpec("wh-snbc", "新北洋 SNBC", "weihai", "peripherals", 2),
    EnterpriseSpec("wf-goertek", "歌尔 Goertek", "weifang", "electro-acoustics", 3),
    EnterpriseSpec(
        "zb-huaguang", "华光电子元件 Huaguang Components", "zibo", "electronic components", 2
    ),
    EnterpriseSpec("qd-hisense", "海信 Hisense", "qingdao", "smart appliances", 3),
    EnterpriseSpec(
        "jn-quancheng", "泉城服务器 Quancheng Servers", "jinan", "software and servers", 2
    ),
    EnterpriseSpec(
        "yt-dongfang", "东方电子 Dongfang Electronics", "yantai", "computers and networking", 2
    ),
    EnterpriseSpec("wh-haitai", "海泰打印 Haitai Printing", "weihai", "peripherals", 2),
    EnterpriseSpec("wf-gettop", "共达电声 Gettop Acoustic", "weifang", "electro-acoustics", 2),
    EnterpriseSpec("zb-boshan", "博山电子 Boshan Electronics", "zibo", "electronic components", 3),
    EnterpriseSpec("qd-aucma", "澳柯玛 Aucma", "qingdao", "smart appliances", 2),
)

LINES_PER_PLANT = 8
