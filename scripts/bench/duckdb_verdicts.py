"""Runs verdicts.sql with DuckDB: python duckdb_verdicts.py EXPORT_DIR OUT.csv"""
import sys
import duckdb

src, out = sys.argv[1], sys.argv[2]
sql = open(__file__.replace("duckdb_verdicts.py", "verdicts.sql")).read()
duckdb.connect().execute(sql.replace("{dir}", src).replace("{out}", out))
