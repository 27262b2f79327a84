-- 001_sync.sql — the sync engine's state: the quarantine, the per-unit
-- checkpoints, detached units, operator requests, completed snapshots.
CREATE TABLE IF NOT EXISTS public.syncd_quarantine (
  id bigserial PRIMARY KEY,
  source text NOT NULL,
  tbl text NOT NULL,
  key text,
  unit_value text,
  reason text NOT NULL,
  row_data jsonb NOT NULL,
  lsn pg_lsn NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS syncd_quarantine_source_tbl_key ON public.syncd_quarantine (source, tbl, key);
CREATE TABLE IF NOT EXISTS public.syncd_checkpoint (
  source text NOT NULL, unit text NOT NULL, lsn pg_lsn NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, unit));
CREATE TABLE IF NOT EXISTS public.syncd_unit_state (
  source text NOT NULL, unit text NOT NULL, detached_at timestamptz NOT NULL DEFAULT now(),
  reason text NOT NULL, PRIMARY KEY (source, unit));
CREATE TABLE IF NOT EXISTS public.syncd_request (
  id bigserial PRIMARY KEY, source text NOT NULL, kind text NOT NULL, unit text, tbl text,
  requested_at timestamptz NOT NULL DEFAULT now(), done_at timestamptz, result text);
CREATE TABLE IF NOT EXISTS public.syncd_snapshot (
  source text PRIMARY KEY, slot text NOT NULL, lsn pg_lsn NOT NULL,
  rows_old bigint NOT NULL, rows_new bigint NOT NULL, quarantined bigint NOT NULL,
  units integer NOT NULL, seconds double precision NOT NULL,
  completed_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE public.syncd_snapshot ADD COLUMN IF NOT EXISTS policy_digest text;
