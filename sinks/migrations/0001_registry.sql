-- The registry: enterprises and their devices, as the last DeviceBirth announced them.
-- Small and updated in place, so plain tables on both paths.

CREATE TABLE IF NOT EXISTS enterprise (
    enterprise_id text PRIMARY KEY,
    name          text NOT NULL,
    city          text NOT NULL,
    industry      text NOT NULL,
    cloud         boolean NOT NULL,
    announced_at  timestamptz NOT NULL  -- Kafka timestamp of the birth that last set it
);

CREATE TABLE IF NOT EXISTS device (
    device_id              text PRIMARY KEY,
    enterprise_id          text NOT NULL REFERENCES enterprise (enterprise_id),
    plant_id               text NOT NULL,
    line_id                text NOT NULL,
    kind                   text NOT NULL,
    key_process            boolean NOT NULL,
    numerically_controlled boolean NOT NULL,
    sample_interval_s      double precision NOT NULL CHECK (sample_interval_s > 0),
    ideal_cycle_s          double precision NOT NULL CHECK (ideal_cycle_s > 0),
    announced_at           timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS device_enterprise_idx ON device (enterprise_id);
