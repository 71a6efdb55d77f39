"""Counts basic-auth sign-ins per user and protocol with DuckDB, the leanest
query an admin would write for the readiness question:

    python duckdb_signins.py SIGNINS_DIR OUT.csv

Successes and failures per (user id, client app) over the portal's CSV
downloads, POP3 / IMAP4 / Authenticated SMTP only (any case).
"""
import sys
import duckdb

src, out = sys.argv[1], sys.argv[2]
duckdb.connect().execute(f"""
COPY (
  SELECT "User ID" AS user_id, lower("Client app") AS client_app,
         count(*) FILTER (WHERE "Status" = 'Success') AS successes,
         count(*) FILTER (WHERE "Status" <> 'Success') AS failures
  FROM read_csv('{src}/*.csv', header = true, all_varchar = true)
  WHERE lower("Client app") IN ('pop3', 'imap4', 'authenticated smtp')
  GROUP BY ALL
) TO '{out}' (HEADER)
""")
