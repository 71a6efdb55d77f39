"""The same verdicts as verdicts.sql with Polars' lazy API, the leanest query an
admin would write: python polars_verdicts.py EXPORT_DIR OUT.csv

Every column is read as a string and a blank field as null, as in the SQL. A null
condition (no user row) is not taken by when(), as NULL is not by SQL's CASE."""
import sys

import polars as pl

src, out = sys.argv[1], sys.argv[2]
scan = lambda name: pl.scan_csv(f"{src}/{name}.csv", infer_schema=False, null_values="")
pol = scan("AuthenticationPolicy").select(
    "Name", "Guid", "DistinguishedName", pop="AllowBasicAuthPop", imap="AllowBasicAuthImap", smtp="AllowBasicAuthSmtp"
)
policy = pl.concat(
    pol.select(pl.col(c).str.to_lowercase().alias("k"), "pop", "imap", "smtp", found=pl.lit(True))
    for c in ("Name", "Guid", "DistinguishedName")
)
usr = (
    scan("User")
    .join(scan("OrganizationConfig").select("DefaultAuthenticationPolicy"), how="cross")
    .select(
        "Guid",
        has_user=pl.lit(True),
        disabled=pl.col("AccountDisabled") == "True",
        ref=pl.coalesce("AuthenticationPolicy", "DefaultAuthenticationPolicy"),
    )
    .join(policy, left_on=pl.col("ref").str.to_lowercase(), right_on="k", how="left")
)
m = (
    scan("CasMailbox")
    .join(scan("TransportConfig").select(tenant_smtp="SmtpClientAuthenticationDisabled"), how="cross")
    .join(usr, on="Guid", how="left")
)
unknown = pl.col("has_user").is_null() | (pl.col("ref").is_not_null() & pl.col("found").is_null())

def verdict(blocked, unknown):
    return pl.when(blocked).then(pl.lit("blocked")).when(unknown).then(pl.lit("unknown")).otherwise(pl.lit("allowed"))

m.select(
    identity="Guid",
    pop=verdict(pl.col("disabled") | (pl.col("PopEnabled") == "False") | (pl.col("pop") == "False"),
                unknown | pl.col("PopEnabled").is_null()),
    imap=verdict(pl.col("disabled") | (pl.col("ImapEnabled") == "False") | (pl.col("imap") == "False"),
                 unknown | pl.col("ImapEnabled").is_null()),
    smtp=verdict(pl.col("disabled") | (pl.coalesce("SmtpClientAuthenticationDisabled", "tenant_smtp") == "True")
                 | (pl.col("smtp") == "False"), unknown),
).sink_csv(out)
