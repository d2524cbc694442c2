-- The facts: raw telemetry, KPI windows, alarms, dead letters.
-- @PARTITION_BY_TS@ / @PARTITION_BY_WINDOW@ become `PARTITION BY RANGE (…)` on plain
-- PostgreSQL and nothing on TimescaleDB, where 0003 turns the tables into hypertables.
-- Unique keys include the time column: both partitioning schemes require it.

-- One row per sample; metrics stay jsonb (docs/schema.md: why not a narrow table).
-- A resent sample is the same sample (same seq, same ts), so the key drops it.
CREATE TABLE IF NOT EXISTS telemetry (
    device_id     text NOT NULL,
    seq           bigint NOT NULL,
    ts            timestamptz NOT NULL,
    state         text NOT NULL
        CHECK (state IN ('running', 'idle', 'setup', 'down', 'planned_stop')),
    count_total   bigint NOT NULL,
    count_good    bigint NOT NULL,
    ideal_cycle_s double precision,
    product       text,
    metrics       jsonb NOT NULL DEFAULT '{}',
    -- Also the index of "one device over time"; a second index would slow every write.
    PRIMARY KEY (device_id, ts, seq)
) @PARTITION_BY_TS@;

-- Every part of the window is kept, so roll-ups add parts and recompute ratios.
CREATE TABLE IF NOT EXISTS oee (
    level               text NOT NULL
        CHECK (level IN ('device', 'line', 'plant', 'enterprise', 'city', 'province')),
    entity_id           text NOT NULL,
    window_start        timestamptz NOT NULL,
    window_end          timestamptz NOT NULL,
    revision            bigint NOT NULL,
    devices             integer NOT NULL,
    samples             bigint NOT NULL,
    late_samples        bigint NOT NULL,
    run_s               double precision NOT NULL,
    idle_s              double precision NOT NULL,
    setup_s             double precision NOT NULL,
    down_s              double precision NOT NULL,
    planned_stop_s      double precision NOT NULL,
    unknown_s           double precision NOT NULL,
    planned_s           double precision NOT NULL,
    ideal_run_s         double precision NOT NULL,
    count_total         bigint NOT NULL,
    count_good          bigint NOT NULL,
    availability        double precision,
    performance         double precision,
    quality             double precision,
    oee                 double precision,
    performance_suspect boolean NOT NULL,
    PRIMARY KEY (level, entity_id, window_start)
) @PARTITION_BY_WINDOW@;

CREATE TABLE IF NOT EXISTS digitization (
    enterprise_id            text NOT NULL,
    window_start             timestamptz NOT NULL,
    window_end               timestamptz NOT NULL,
    revision                 bigint NOT NULL,
    devices_registered       bigint NOT NULL,
    devices_reporting        bigint NOT NULL,
    samples_received         bigint NOT NULL,
    samples_expected         double precision NOT NULL,
    key_process_devices      bigint NOT NULL,
    key_process_nc_reporting bigint NOT NULL,
    devices_with_oee         bigint NOT NULL,
    cloud                    boolean NOT NULL,
    connectivity             double precision,
    completeness             double precision,
    key_process_nc           double precision,
    oee_coverage             double precision,
    index                    double precision NOT NULL,
    PRIMARY KEY (enterprise_id, window_start)
) @PARTITION_BY_WINDOW@;

-- One row per edge of an alarm episode; (device, kind, raised_at) is the episode.
CREATE TABLE IF NOT EXISTS alarm (
    device_id text NOT NULL,
    kind      text NOT NULL,
    raised_at timestamptz NOT NULL,
    status    text NOT NULL CHECK (status IN ('raised', 'cleared')),
    ts        timestamptz NOT NULL,
    value     double precision,
    threshold double precision,
    message   text NOT NULL,
    PRIMARY KEY (device_id, kind, raised_at, status)
);
CREATE INDEX IF NOT EXISTS alarm_ts_idx ON alarm (ts DESC);

-- Keyed by where the dead letter itself sits on iiot.deadletter, so re-reading it is a no-op.
CREATE TABLE IF NOT EXISTS deadletter (
    dl_partition integer NOT NULL,
    dl_offset    bigint NOT NULL,
    received_at  timestamptz NOT NULL,  -- Kafka timestamp of the dead letter
    stage        text NOT NULL,
    code         text NOT NULL,
    reason       text NOT NULL,
    topic        text,
    partition    integer,
    "offset"     bigint,
    key          text,
    timestamp_ms bigint,
    payload      text,
    payload_b64  text,
    PRIMARY KEY (dl_partition, dl_offset)
);
CREATE INDEX IF NOT EXISTS deadletter_received_idx ON deadletter (received_at DESC);
