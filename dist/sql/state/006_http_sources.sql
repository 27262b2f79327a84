-- 006_http_sources.sql — the kind = http sources (`[source NAME] kind = http`,
-- syncd/sync/pull.c): each source's cursor (the API's cursor or next-page
-- token of the next page to read) and the number of the last page applied,
-- committed in the quarantine's transaction after the units' rows.  A page's
-- number is its position ("0/<page_seq hex>") in the units' checkpoints.
CREATE TABLE IF NOT EXISTS public.syncd_source_cursor (
  source text PRIMARY KEY,
  cursor text,
  page_seq bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now());
