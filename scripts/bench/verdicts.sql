-- The per-mailbox basic-auth verdicts of `exoauth audit --all-recipient-types`
-- (online, all protocols) as the leanest query an admin would write over the same
-- CSV export, for scripts/bench.sh. Reads {dir}/*.csv, writes {out}.
-- Rules (DESIGN.md section 2): a disabled account blocks everything; PopEnabled /
-- ImapEnabled False blocks and blank is unknown; SMTP: the mailbox's
-- SmtpClientAuthenticationDisabled True blocks, blank inherits the tenant switch;
-- the user's policy replaces the org default and is found by name, GUID or DN in
-- any case; a policy not found, or no user row, is unknown. Blank reads as NULL.
COPY (
  WITH pol AS (FROM read_csv('{dir}/AuthenticationPolicy.csv', all_varchar = true)),
  policy AS (
    SELECT lower(Name) AS k, AllowBasicAuthPop AS pop, AllowBasicAuthImap AS imap, AllowBasicAuthSmtp AS smtp FROM pol
    UNION ALL SELECT lower(Guid), AllowBasicAuthPop, AllowBasicAuthImap, AllowBasicAuthSmtp FROM pol
    UNION ALL SELECT lower(DistinguishedName), AllowBasicAuthPop, AllowBasicAuthImap, AllowBasicAuthSmtp FROM pol
  ),
  usr AS (
    SELECT u.Guid, u.AccountDisabled = 'True' AS disabled,
           coalesce(u.AuthenticationPolicy, o.DefaultAuthenticationPolicy) AS ref, p.k, p.pop, p.imap, p.smtp
    FROM read_csv('{dir}/User.csv', all_varchar = true) u
    CROSS JOIN read_csv('{dir}/OrganizationConfig.csv', all_varchar = true) o
    LEFT JOIN policy p ON p.k = lower(coalesce(u.AuthenticationPolicy, o.DefaultAuthenticationPolicy))
  )
  SELECT m.Guid AS identity,
    CASE WHEN u.disabled OR m.PopEnabled = 'False' OR u.pop = 'False' THEN 'blocked'
         WHEN u.Guid IS NULL OR (u.ref IS NOT NULL AND u.k IS NULL) OR m.PopEnabled IS NULL THEN 'unknown'
         ELSE 'allowed' END AS pop,
    CASE WHEN u.disabled OR m.ImapEnabled = 'False' OR u.imap = 'False' THEN 'blocked'
         WHEN u.Guid IS NULL OR (u.ref IS NOT NULL AND u.k IS NULL) OR m.ImapEnabled IS NULL THEN 'unknown'
         ELSE 'allowed' END AS imap,
    CASE WHEN u.disabled OR coalesce(m.SmtpClientAuthenticationDisabled, t.SmtpClientAuthenticationDisabled) = 'True'
              OR u.smtp = 'False' THEN 'blocked'
         WHEN u.Guid IS NULL OR (u.ref IS NOT NULL AND u.k IS NULL) THEN 'unknown'
         ELSE 'allowed' END AS smtp
  FROM read_csv('{dir}/CasMailbox.csv', all_varchar = true) m
  CROSS JOIN read_csv('{dir}/TransportConfig.csv', all_varchar = true) t
  LEFT JOIN usr u ON u.Guid = m.Guid
) TO '{out}' (HEADER);
