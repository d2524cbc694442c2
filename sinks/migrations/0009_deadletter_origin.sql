-- One bad record, one dead-letter row: the table is keyed by where the refused record sat
-- (its topic, partition and offset: the origin), no longer by where its letter sits on
-- iiot.deadletter. A record refused by two stages, or lettered again by a stage replaying
-- after a crash, has several letters and one origin, so one row (the first to land). A
-- record that never reached Kafka (a producer's refusal at the edge) has its letter's own
-- position as origin: origin_topic 'iiot.deadletter'. `sample_index` leaves room for one
-- letter per refused sample of a batch record (0 for a whole record).
-- Letters also carry only the first 4 KiB of the refused value now, with its full size and
-- the sha256 of the whole.
-- The same on both paths (deadletter is not a hypertable); every statement is idempotent,
-- as the TimescaleDB path runs them one by one.
ALTER TABLE deadletter ADD COLUMN IF NOT EXISTS origin_topic text;
ALTER TABLE deadletter ADD COLUMN IF NOT EXISTS origin_partition integer;
ALTER TABLE deadletter ADD COLUMN IF NOT EXISTS origin_offset bigint;
ALTER TABLE deadletter ADD COLUMN IF NOT EXISTS sample_index integer NOT NULL DEFAULT 0;
ALTER TABLE deadletter ADD COLUMN IF NOT EXISTS payload_bytes bigint;
ALTER TABLE deadletter ADD COLUMN IF NOT EXISTS payload_sha256 text;

UPDATE deadletter SET
    origin_topic = CASE WHEN "offset" IS NULL OR partition IS NULL OR topic IS NULL
                        THEN 'iiot.deadletter' ELSE topic END,
    origin_partition = CASE WHEN "offset" IS NULL OR partition IS NULL OR topic IS NULL
                            THEN dl_partition ELSE partition END,
    origin_offset = CASE WHEN "offset" IS NULL OR partition IS NULL OR topic IS NULL
                         THEN dl_offset ELSE "offset" END
WHERE origin_topic IS NULL;

-- Rows already counted twice: keep one per origin, a stream's letter before the sink's
-- (the stream worker owns telemetry and registry refusals), else the first that came.
DELETE FROM deadletter WHERE ctid IN (
    SELECT ctid FROM (
        SELECT ctid, row_number() OVER (
            PARTITION BY origin_topic, origin_partition, origin_offset, sample_index
            ORDER BY stage = 'sink', received_at, dl_partition, dl_offset) AS nth
        FROM deadletter) AS ranked
    WHERE nth > 1);

ALTER TABLE deadletter ALTER COLUMN origin_topic SET NOT NULL;
ALTER TABLE deadletter ALTER COLUMN origin_partition SET NOT NULL;
ALTER TABLE deadletter ALTER COLUMN origin_offset SET NOT NULL;
ALTER TABLE deadletter DROP CONSTRAINT IF EXISTS deadletter_pkey;
ALTER TABLE deadletter ADD CONSTRAINT deadletter_pkey
    PRIMARY KEY (origin_topic, origin_partition, origin_offset, sample_index);

-- The view gains the new columns at its end (CREATE OR REPLACE VIEW may only append).
CREATE OR REPLACE VIEW v_deadletter AS
SELECT received_at, stage, code, reason, topic, partition, "offset", key, timestamp_ms,
       payload, payload_b64, arrived_at, sample_index, payload_bytes, payload_sha256
FROM deadletter;
