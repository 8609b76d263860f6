-- The proxy variables (http_proxy, https_proxy, all_proxy, no_proxy, in
-- either case) of the user who last made, resumed or set the proxy of a
-- job, as a JSON array of "NAME=value": a PRECONFIG job uses them rather
-- than the worker's own environment, so that a changed https_proxy takes
-- effect at the job's next attempt. Empty: not recorded (jobs made before).
ALTER TABLE jobs ADD COLUMN proxy_env TEXT NOT NULL DEFAULT '';
