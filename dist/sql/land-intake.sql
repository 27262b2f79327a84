-- land-intake.sql — the land register's intake of land-use certificates
-- issued at unit level (syncd's outbox delivers each one exactly once: the
-- serial is the key).  Run by the land database's owner, in that database:
--   psql -d land -v syncd_role=syncd_repl -f land-intake.sql
-- syncd_role is the role of syncd's [source land] conninfo.
CREATE TABLE IF NOT EXISTS public.syncd_intake_certificates (
    serial      text PRIMARY KEY,            -- <unit>-<year>-<6 digits>
    unit        text NOT NULL,
    record_key  text NOT NULL,               -- the parcel's key (thua_dat.id)
    issued_at   timestamptz NOT NULL,
    document    jsonb NOT NULL,              -- the signed canonical JSON
    received_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT ON public.syncd_intake_certificates TO :"syncd_role";
