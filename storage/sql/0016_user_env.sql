-- proxy_env becomes user_env: besides the proxy variables it now keeps the
-- user's Kerberos variables (KRB5CCNAME, KRB5_CONFIG), which the Negotiate
-- scheme reads for the user's tickets.
ALTER TABLE jobs RENAME COLUMN proxy_env TO user_env;
