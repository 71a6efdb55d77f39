-- The per-mailbox basic-auth verdicts of `exoauth audit` (environment online,
-- want allow, all protocols, default scope) computed by DuckDB straight from the
-- same CSV export, for scripts/bench.sh. Reads {dir}/*.csv, writes {out}.
-- Rules: DESIGN.md section 2 (account, mailbox switches, SMTP inheritance,
-- user policy over org default, policy references by name/DN/GUID in any case).
CREATE TEMP TABLE cas AS SELECT * FROM read_csv('{dir}/CasMailbox.csv', all_varchar = true, header = true);
CREATE TEMP TABLE usr AS SELECT * FROM read_csv('{dir}/User.csv', all_varchar = true, header = true);
CREATE TEMP TABLE pol AS SELECT * FROM read_csv('{dir}/AuthenticationPolicy.csv', all_varchar = true, header = true);
CREATE TEMP TABLE org AS SELECT * FROM read_csv('{dir}/OrganizationConfig.csv', all_varchar = true, header = true);
CREATE TEMP TABLE trn AS SELECT * FROM read_csv('{dir}/TransportConfig.csv', all_varchar = true, header = true);

CREATE TEMP TABLE polkey AS
  SELECT lower(Name) AS k, Name, AllowBasicAuthPop AS pop, AllowBasicAuthImap AS imap, AllowBasicAuthSmtp AS smtp FROM pol
  UNION ALL SELECT lower(Guid), Name, AllowBasicAuthPop, AllowBasicAuthImap, AllowBasicAuthSmtp FROM pol WHERE Guid IS NOT NULL
  UNION ALL SELECT lower(DistinguishedName), Name, AllowBasicAuthPop, AllowBasicAuthImap, AllowBasicAuthSmtp FROM pol WHERE DistinguishedName IS NOT NULL;

COPY (
  WITH joined AS (
    SELECT m.Guid AS identity, m.PopEnabled, m.ImapEnabled, m.SmtpClientAuthenticationDisabled AS mbx_smtp,
           u.Guid IS NOT NULL AS has_user, u.AccountDisabled, u.RecipientTypeDetails AS rtd,
           coalesce(nullif(u.AuthenticationPolicy, ''), (SELECT nullif(DefaultAuthenticationPolicy, '') FROM org)) AS ref
    FROM cas m LEFT JOIN usr u ON lower(u.Guid) = lower(m.Guid)
  ),
  resolved AS (
    SELECT j.*, p.pop AS p_pop, p.imap AS p_imap, p.smtp AS p_smtp, p.Name IS NOT NULL AS found
    FROM joined j LEFT JOIN polkey p
      ON p.k = lower(trim(j.ref, '{}')) OR p.k = lower(regexp_extract(j.ref, '^CN=([^,]+)', 1))
    QUALIFY row_number() OVER (PARTITION BY j.identity ORDER BY p.k = lower(j.ref) DESC) = 1
  ),
  facts AS (
    SELECT identity,
      has_user AND AccountDisabled = 'True' AS disabled,
      NOT has_user OR (ref IS NOT NULL AND NOT found) AS policy_unknown,
      (SELECT SmtpClientAuthenticationDisabled FROM trn) = 'True' AS tenant_off,
      * EXCLUDE (identity)
    FROM resolved
    WHERE NOT has_user OR rtd = 'UserMailbox'
  )
  SELECT identity,
    CASE WHEN disabled OR PopEnabled = 'False' OR (has_user AND found AND p_pop = 'False') THEN 'blocked'
         WHEN policy_unknown OR coalesce(PopEnabled, '') = '' THEN 'unknown' ELSE 'allowed' END AS pop,
    CASE WHEN disabled OR ImapEnabled = 'False' OR (has_user AND found AND p_imap = 'False') THEN 'blocked'
         WHEN policy_unknown OR coalesce(ImapEnabled, '') = '' THEN 'unknown' ELSE 'allowed' END AS imap,
    CASE WHEN disabled OR mbx_smtp = 'True' OR (coalesce(mbx_smtp, '') = '' AND tenant_off)
              OR (has_user AND found AND p_smtp = 'False') THEN 'blocked'
         WHEN policy_unknown THEN 'unknown' ELSE 'allowed' END AS smtp
  FROM facts ORDER BY identity
) TO '{out}' (HEADER, DELIMITER ',');
