-- A sample's reason (Sample.reason, docs/contract.md "Reasons"): why the device is down, idle,
-- in setup or stopped, as a snake_case code (breakdown, changeover, micro_stop, …), so
-- downtime can be ranked by cause. NULL while running, when the cause is unknown, and in the
-- rows written before this migration. Added without a default, so no existing row is
-- rewritten: plain PostgreSQL adds it to every partition, TimescaleDB to every chunk,
-- compressed ones too. The same on both paths; every statement is idempotent, as the
-- TimescaleDB path runs them one by one.
ALTER TABLE telemetry ADD COLUMN IF NOT EXISTS reason text;

-- The view gains the column at its end (CREATE OR REPLACE VIEW may only append).
CREATE OR REPLACE VIEW v_telemetry AS
SELECT device_id, ts, seq, state, count_total, count_good, ideal_cycle_s, product, metrics,
       arrived_at, reason
FROM telemetry;
