"""The same verdicts as verdicts.sql, with pandas: python pandas_verdicts.py EXPORT_DIR OUT.csv"""
import re
import sys

import numpy as np
import pandas as pd

src, out = sys.argv[1], sys.argv[2]
read = lambda name: pd.read_csv(f"{src}/{name}", dtype=str, keep_default_na=False)
cas, usr, pol = read("CasMailbox.csv"), read("User.csv"), read("AuthenticationPolicy.csv")
default = read("OrganizationConfig.csv")["DefaultAuthenticationPolicy"].iloc[0]
tenant_off = read("TransportConfig.csv")["SmtpClientAuthenticationDisabled"].iloc[0] == "True"

keys = {}
for _, p in pol.iterrows():
    for k in (p["Name"], p["Guid"], p["DistinguishedName"]):
        if k:
            keys.setdefault(k.lower(), p)

usr["_k"] = usr["Guid"].str.lower()
cas["_k"] = cas["Guid"].str.lower()
m = cas.merge(usr[["_k", "AuthenticationPolicy", "RecipientTypeDetails", "AccountDisabled"]], on="_k", how="left", indicator=True)
has_user = m["_merge"] == "both"
ref = m["AuthenticationPolicy"].fillna("")
ref = ref.where(ref != "", default)

def resolve(r):
    if not r:
        return None
    p = keys.get(r.strip("{}").lower())
    if p is None:
        cn = re.match(r"^CN=([^,]+)", r)
        p = keys.get(cn.group(1).lower()) if cn else None
    return p

resolved = ref.map(resolve)
found = resolved.notna()
switch = lambda col: resolved.map(lambda p: None if p is None else p[col])
disabled = has_user & (m["AccountDisabled"] == "True")
unknown = ~has_user | ((ref != "") & ~found)

def verdict(blocked, unk):
    return np.where(blocked, "blocked", np.where(unk, "unknown", "allowed"))

pol_blocks = lambda col: has_user & found & (switch(col) == "False")
mbx_smtp = m["SmtpClientAuthenticationDisabled"]
result = pd.DataFrame({
    "identity": m["Guid"],
    "pop": verdict(disabled | (m["PopEnabled"] == "False") | pol_blocks("AllowBasicAuthPop"), unknown | (m["PopEnabled"] == "")),
    "imap": verdict(disabled | (m["ImapEnabled"] == "False") | pol_blocks("AllowBasicAuthImap"), unknown | (m["ImapEnabled"] == "")),
    "smtp": verdict(disabled | (mbx_smtp == "True") | ((mbx_smtp == "") & tenant_off) | pol_blocks("AllowBasicAuthSmtp"), unknown),
})
in_scope = ~has_user | (m["RecipientTypeDetails"] == "UserMailbox")
result[in_scope].sort_values("identity").to_csv(out, index=False)
