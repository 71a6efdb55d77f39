"""The portal's sign-in CSV downloads (`exoauth generate --sign-ins`) written
again as Graph `auditLogs/signIns` responses, for the bench: one
`{"@odata.context", "value": [...]}` document per file, each event with the
properties Graph gives (nested status, deviceDetail and location), indented.

usage: signins_json.py CSV_DIR JSON_DIR
"""
import csv
import glob
import json
import os
import sys

src, dst = sys.argv[1], sys.argv[2]
for path in sorted(glob.glob(os.path.join(src, "*.csv"))):
    interactive = os.path.basename(path).startswith("Interactive")
    out = open(os.path.join(dst, os.path.basename(path)[:-4] + ".json"), "w", encoding="utf-8")
    out.write('{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns","value":[')
    with open(path, encoding="utf-8-sig", newline="") as f:
        for i, r in enumerate(csv.DictReader(f)):
            city, state, country = (r["Location"].split(", ") + ["", "", ""])[:3]
            e = {
                "id": r["Request ID"], "createdDateTime": r["Date (UTC)"],
                "userDisplayName": r["User"], "userPrincipalName": r["Username"], "userId": r["User ID"],
                "appId": r["Application ID "], "appDisplayName": r["Application"],
                "ipAddress": r["IP address"], "clientAppUsed": r["Client app"],
                "correlationId": r["Correlation ID"], "conditionalAccessStatus": "notApplied",
                "isInteractive": interactive, "riskDetail": "none", "riskLevelAggregated": "none",
                "riskLevelDuringSignIn": "none", "riskState": "none", "riskEventTypes_v2": [],
                "resourceDisplayName": r["Resource"], "resourceId": r["Resource ID "],
                "userAgent": r["User agent"],
                "status": {"errorCode": int(r["Sign-in error code"] or 0), "failureReason": r["Failure reason"], "additionalDetails": None},
                "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "", "browser": "", "isCompliant": False, "isManaged": False, "trustType": ""},
                "location": {"city": city, "state": state, "countryOrRegion": country, "geoCoordinates": {"altitude": None, "latitude": 47.6, "longitude": -122.3}},
                "appliedConditionalAccessPolicies": [],
            }
            out.write(("," if i else "") + "\n" + json.dumps(e, ensure_ascii=False, indent=2))
    out.write("\n]}\n")
