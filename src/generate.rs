//! Synthetic tenants: deterministic from a seed, with a realistic mix of
//! policies, an org default, per-mailbox overrides, odd and missing values and
//! non-ASCII names. Used by the property tests (and by `exoauth generate`).

use crate::input::Source;
use crate::model::policy::settable;
use crate::model::{
    AuthPolicy, CasMailbox, Environment, Id, Ids, OrgConfig, Parts, PerProtocol, Protocol, Setting,
    TransportConfig, User,
};

/// A small, fast, deterministic random number generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of the items.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A GUID-shaped identifier derived from the generator.
pub fn guid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

const FIRST: [&str; 12] = [
    "Alex", "Zoë", "José", "Łukasz", "Chen", "Fatima", "Björn", "Seán", "Amélie", "Rajesh", "Olga",
    "Ngozi",
];
const LAST: [&str; 12] = [
    "Wilber",
    "Ångström",
    "Núñez",
    "Żółć",
    "Wei",
    "Al-Sayed",
    "Müller",
    "O'Brien",
    "Dubois",
    "Kumar",
    "Petrova",
    "Okafor",
];

fn setting(rng: &mut Rng, null: u64, falsy: u64) -> Setting {
    let roll = rng.next_u64() % 100;
    if roll < null {
        Setting::Null
    } else if roll < null + falsy {
        Setting::Value(false)
    } else {
        Setting::Value(true)
    }
}

/// A tenant of `mailboxes` mailboxes for the environment.
pub fn tenant(seed: u64, mailboxes: usize, environment: Environment) -> Parts {
    let mut rng = Rng::new(seed);
    let src = |file: &str, line: usize| Source { file: file.into(), line };
    let policy_count = 1 + rng.below(5);
    let mut policies = Vec::new();
    for i in 0..policy_count {
        let all_switches: Vec<(&'static str, Setting)> = settable(environment)
            .iter()
            .map(|n| {
                let v = match environment {
                    Environment::Online => Setting::Value(rng.chance(35)),
                    Environment::OnPrem => setting(&mut rng, 30, 30),
                };
                (*n, v)
            })
            .collect();
        let switch = |p: Protocol| {
            let wanted = match environment {
                Environment::Online => format!("AllowBasicAuth{}", p.policy_suffix()),
                Environment::OnPrem => format!("BlockLegacyAuth{}", p.policy_suffix()),
            };
            all_switches.iter().find(|(n, _)| *n == wanted).map_or(Setting::NotExported, |s| s.1)
        };
        let name = format!(
            "{} {}",
            rng.pick(&["Block Basic", "Legacy Apps", "Printers", "Contractors", "Policy Ü"]),
            i
        );
        policies.push(AuthPolicy {
            guid: Some(guid(&mut rng)),
            distinguished_name: Some(format!(
                "CN={name},CN=Auth Policies,CN=Configuration,DC=PROD"
            )),
            name,
            switches: PerProtocol(Protocol::ALL.map(switch)),
            all_switches,
            environment,
            source: src("AuthenticationPolicy.csv", i + 2),
        });
    }
    let reference = |rng: &mut Rng, policies: &[AuthPolicy]| -> Option<String> {
        let p = rng.pick(policies);
        match rng.below(20) {
            0 => Some("Deleted Policy".into()), // referenced but not exported
            1 => p.distinguished_name.clone(),
            2 => p.guid.clone(),
            3 => Some(p.name.to_uppercase()),
            _ => Some(p.name.clone()),
        }
    };
    let default_policy = if rng.chance(70) { reference(&mut rng, &policies) } else { None };
    let org = OrgConfig { default_policy, source: src("OrganizationConfig.csv", 2) };
    let transport = TransportConfig {
        smtp_client_auth_disabled: match environment {
            Environment::Online => Setting::Value(rng.chance(60)),
            Environment::OnPrem => Setting::NotExported,
        },
        source: src("TransportConfig.csv", 2),
    };
    let mut users = Vec::new();
    let mut cas = Vec::new();
    for i in 0..mailboxes {
        let first = rng.pick(&FIRST);
        let last = rng.pick(&LAST);
        let address = format!("user{i}@contoso.com");
        let (guid, edoid, name, display) =
            (guid(&mut rng), guid(&mut rng), format!("user{i}"), format!("{first} {last}"));
        let ids = Ids::new([
            Some(&guid),
            Some(&edoid),
            None,
            Some(&address),
            Some(&name),
            Some(&name),
            Some(&display),
        ])
        // Generated identifiers are a few dozen bytes.
        .unwrap_or_default();
        let recipient_type = *rng.pick(&[
            "UserMailbox",
            "UserMailbox",
            "UserMailbox",
            "SharedMailbox",
            "RoomMailbox",
        ]);
        if !rng.chance(3) {
            users.push(User {
                ids: ids.with(Ids::USER_PRINCIPAL_NAME, Some(&address)).unwrap_or_default(),
                authentication_policy: if rng.chance(40) {
                    reference(&mut rng, &policies).as_deref().map(crate::model::intern)
                } else {
                    None
                },
                recipient_type_details: Some(recipient_type.into()),
                account_disabled: Setting::Value(recipient_type != "UserMailbox" || rng.chance(3)),
                source: src("User.csv", users.len() + 2),
            });
        }
        cas.push(CasMailbox {
            ids,
            pop_enabled: Setting::Value(!rng.chance(15)),
            imap_enabled: Setting::Value(!rng.chance(15)),
            smtp_client_auth_disabled: match environment {
                Environment::Online => setting(&mut rng, 70, 15),
                Environment::OnPrem => Setting::NotExported,
            },
            recipient_type_details: None,
            source: src("CasMailbox.csv", i + 2),
        });
    }
    Parts {
        environment,
        policies: Some(policies),
        org: Some(org),
        transport: Some(transport),
        security_defaults: None,
        conditional_access: None,
        users: Some(users),
        mailboxes: cas.into(),
    }
}

/// The form `exoauth generate` writes the export in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputForm {
    /// PowerShell 7 `Export-Csv` (`.csv`), streamed.
    #[default]
    Csv,
    /// `Format-List` console text (`.txt`).
    List,
    /// `Format-Table` console text, wide enough that nothing is cut (`.txt`).
    Table,
    /// `ConvertTo-Json` (`.json`).
    Json,
}

/// One output file: CSV records are streamed; the other forms are collected and
/// rendered whole (their layout depends on every row).
enum Out {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    Collect { path: std::path::PathBuf, form: OutputForm, table: crate::input::Table },
}

impl Out {
    fn write_record<T: AsRef<[u8]>>(
        &mut self,
        record: impl IntoIterator<Item = T>,
    ) -> std::io::Result<()> {
        match self {
            Out::Csv(w) => w.write_record(record).map_err(std::io::Error::other),
            Out::Collect { table, .. } => {
                let values: Vec<String> = record
                    .into_iter()
                    .map(|f| String::from_utf8_lossy(f.as_ref()).into_owned())
                    .collect();
                if table.columns.is_empty() {
                    table.columns = values;
                } else {
                    let values = values.into_iter().map(Some).collect();
                    table.rows.push(crate::input::Record { line: table.rows.len() + 1, values });
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Csv(w) => w.flush(),
            Out::Collect { path, form, table } => {
                use crate::emit::convert::{Target, render};
                let text = match form {
                    OutputForm::List => crate::emit::forms::list(table).into_bytes(),
                    OutputForm::Table => crate::emit::forms::table(table).into_bytes(),
                    OutputForm::Json | OutputForm::Csv => render(table, Target::Json),
                };
                std::fs::write(path, text)
            }
        }
    }
}

/// Writes a tenant as an export folder in PowerShell 7's `Export-Csv` shape
/// (every field quoted, `$null` as nothing, no `#TYPE` line, UTF-8, CRLF).
pub fn write_csv(parts: &Parts, dir: &std::path::Path) -> std::io::Result<()> {
    write(parts, dir, OutputForm::Csv)
}

/// Writes a tenant as an export folder in the given form.
pub fn write(parts: &Parts, dir: &std::path::Path, form: OutputForm) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let open = |name: &str| -> std::io::Result<Out> {
        let stem = name.trim_end_matches(".csv");
        Ok(match form {
            OutputForm::Csv => {
                let file = std::io::BufWriter::with_capacity(
                    1 << 20,
                    std::fs::File::create(dir.join(name))?,
                );
                Out::Csv(Box::new(
                    csv::WriterBuilder::new()
                        .quote_style(csv::QuoteStyle::Always)
                        .terminator(csv::Terminator::CRLF)
                        .from_writer(file),
                ))
            }
            OutputForm::List | OutputForm::Table => Out::Collect {
                path: dir.join(format!("{stem}.txt")),
                form,
                table: Default::default(),
            },
            OutputForm::Json => Out::Collect {
                path: dir.join(format!("{stem}.json")),
                form,
                table: Default::default(),
            },
        })
    };
    let value = |s: Setting| match s {
        Setting::Value(true) => "True",
        Setting::Value(false) => "False",
        Setting::Null | Setting::NotExported => "",
    };
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let env = parts.environment;

    let mut w = open("AuthenticationPolicy.csv")?;
    let mut header = vec!["Name", "Guid", "DistinguishedName"];
    header.extend(settable(env));
    w.write_record(&header)?;
    for p in parts.policies.iter().flatten() {
        let mut row = vec![p.name.clone(), opt(&p.guid), opt(&p.distinguished_name)];
        row.extend(p.all_switches.iter().map(|(_, s)| value(*s).to_owned()));
        w.write_record(&row)?;
    }
    w.flush()?;

    let mut w = open("OrganizationConfig.csv")?;
    w.write_record(["Name", "DefaultAuthenticationPolicy"])?;
    if let Some(org) = &parts.org {
        w.write_record(["contoso.onmicrosoft.com".to_owned(), opt(&org.default_policy)])?;
    }
    w.flush()?;

    let mut w = open("TransportConfig.csv")?;
    match env {
        Environment::Online => {
            w.write_record(["Name", "SmtpClientAuthenticationDisabled"])?;
            if let Some(t) = &parts.transport {
                w.write_record(["Transport Settings", value(t.smtp_client_auth_disabled)])?;
            }
        }
        Environment::OnPrem => {
            w.write_record(["Name"])?;
            w.write_record(["Transport Settings"])?;
        }
    }
    w.flush()?;

    let mut w = open("CasMailbox.csv")?;
    let mut header = vec![
        "Guid",
        "ExternalDirectoryObjectId",
        "PrimarySmtpAddress",
        "Identity",
        "Name",
        "DisplayName",
        "PopEnabled",
        "ImapEnabled",
    ];
    if env == Environment::Online {
        header.push("SmtpClientAuthenticationDisabled");
    }
    w.write_record(&header)?;
    for m in parts.mailboxes.iter() {
        let i = &m.ids;
        let mut row: Vec<String> = [
            i.guid(),
            i.external_directory_object_id(),
            i.primary_smtp_address(),
            i.identity(),
            i.name(),
            i.display_name(),
        ]
        .map(|v| v.unwrap_or_default().to_string())
        .to_vec();
        row.push(value(m.pop_enabled).into());
        row.push(value(m.imap_enabled).into());
        if env == Environment::Online {
            row.push(value(m.smtp_client_auth_disabled).into());
        }
        w.write_record(&row)?;
    }
    w.flush()?;

    let mut w = open("User.csv")?;
    w.write_record([
        "Guid",
        "ExternalDirectoryObjectId",
        "UserPrincipalName",
        "Identity",
        "Name",
        "DisplayName",
        "AuthenticationPolicy",
        "RecipientTypeDetails",
        "AccountDisabled",
    ])?;
    for u in parts.users.iter().flatten() {
        let i = &u.ids;
        let mut row: Vec<String> = [
            i.guid(),
            i.external_directory_object_id(),
            i.user_principal_name(),
            i.identity(),
            i.name(),
            i.display_name(),
        ]
        .map(|v| v.unwrap_or_default().to_string())
        .to_vec();
        row.push(u.authentication_policy.as_deref().unwrap_or_default().to_owned());
        row.push(u.recipient_type_details.as_deref().unwrap_or_default().to_owned());
        row.push(value(u.account_disabled).into());
        w.write_record(&row)?;
    }
    w.flush()?;
    let mut manifest = std::fs::File::create(dir.join("manifest.json"))?;
    writeln!(
        manifest,
        "{{\"generator\": \"exoauth generate\", \"mailboxes\": {}, \"users\": {}}}",
        parts.mailboxes.len(),
        parts.users.as_ref().map_or(0, Vec::len)
    )
}

/// The Entra admin center's sign-in download header (2025, 57 columns, with
/// its repeated `Incoming token type` and the names that end in a space).
const PORTAL_HEADER: &str = "\"Date (UTC)\",\"Request ID\",\"User agent\",\"Correlation ID\",\"User ID\",\"User\",\"Username\",\"User type\",\"Cross tenant access type\",\"Incoming token type\",\"Authentication Protocol\",\"Unique token identifier\",\"Original transfer method\",\"Client credential type\",\"Token Protection - Sign In Session\",\"Token Protection - Sign In Session StatusCode\",\"Application\",\"Application ID \",\"App owner tenant ID\",\"Resource\",\"Resource ID \",\"Resource tenant ID\",\"Resource owner tenant ID\",\"Home tenant ID\",\"Home tenant name\",\"IP address\",\"Location\",\"Status\",\"Sign-in error code\",\"Failure reason\",\"Client app\",\"Device ID\",\"Browser\",\"Operating System\",\"Compliant\",\"Managed\",\"Join Type\",\"Multifactor authentication result\",\"Multifactor authentication auth method\",\"Multifactor authentication auth detail\",\"Authentication requirement\",\"Sign-in identifier\",\"Session ID\",\"IP address (seen by resource)\",\"Through Global Secure Access\",\"Global Secure Access IP address\",\"Autonomous system  number\",\"Flagged for review\",\"Token issuer type\",\"Incoming token type\",\"Token issuer name\",\"Latency\",\"Conditional Access\",\"Managed Identity type\",\"Associated Resource Id\",\"Federated Token Id\",\"Federated Token Issuer\"";

/// Writes `events` sign-in events of the tenant's users as the Entra portal's
/// two CSV downloads (`InteractiveSignIns_...csv`, `NonInteractiveSignIns_...csv`,
/// UTF-8 with BOM) into `dir`, for benchmarks: mostly modern auth, some
/// ActiveSync, and POP3, IMAP4 and Authenticated SMTP (successes and failures)
/// over the 30 days to 2026-11-28, each user from a few addresses.
pub fn write_sign_ins(
    parts: &Parts,
    seed: u64,
    events: usize,
    dir: &std::path::Path,
) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let users: Vec<(Id<'_>, Id<'_>, Id<'_>)> = parts
        .users
        .iter()
        .flatten()
        .filter_map(|u| {
            let i = &u.ids;
            Some((
                i.external_directory_object_id()?,
                i.user_principal_name()?,
                i.display_name().unwrap_or_default(),
            ))
        })
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    let mut rng = Rng::new(seed ^ 0x0516_71e5);
    let start = time::macros::datetime!(2026-10-30 00:00 UTC).unix_timestamp();
    let span = 30 * 86_400;
    let open = |name: &str| -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        let mut w =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join(name))?);
        w.write_all(b"\xEF\xBB\xBF")?;
        w.write_all(PORTAL_HEADER.as_bytes())?;
        w.write_all(b"\r\n")?;
        Ok(w)
    };
    let mut interactive = open("InteractiveSignIns_2026-10-30_2026-11-28.csv")?;
    let mut non_interactive = open("NonInteractiveSignIns_2026-10-30_2026-11-28.csv")?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    for n in 0..events {
        let u = rng.below(users.len());
        let (id, upn, name) = users[u];
        let (app, agent) = match rng.below(100) {
            0..=39 => ("Browser", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/131.0"),
            40..=69 => {
                ("Mobile Apps and Desktop clients", "Microsoft Office/16.0 (Outlook 16.0.18129)")
            }
            70..=79 => ("Exchange ActiveSync", "Apple-iPhone15C2/2201.116"),
            80..=94 => ("Authenticated SMTP", "BAV2ROPC"),
            95..=97 => ("IMAP4", "BAV2ROPC"),
            _ => ("POP3", "BAV2ROPC"),
        };
        let success = rng.chance(85);
        let at = time::OffsetDateTime::from_unix_timestamp(start + rng.below(span) as i64)
            .map_err(std::io::Error::other)?;
        let when = at.format(fmt).map_err(std::io::Error::other)?;
        let (status, code, reason) = if success {
            ("Success", "", "Other.")
        } else {
            ("Failure", "50126", "Invalid username or password.")
        };
        let ip = format!("198.51.{}.{}", u % 200, 10 + rng.below(3));
        let out = if rng.chance(60) { &mut interactive } else { &mut non_interactive };
        write!(
            out,
            "\"{when}\",\"{:08x}-0000-4000-8000-{:012x}\",\"{agent}\",\"{:08x}-1111-4000-8000-{:012x}\",\"{id}\",\"{name}\",\"{upn}\",\"Member\",\"None\",\"None\",\"ropc\",\"tok{n}\",\"None\",\"None\",\"\",\"\",\"Office 365 Exchange Online\",\"00000002-0000-0ff1-ce00-000000000000\",\"f8cdef31-a31e-4b4a-93e4-5f571e91255a\",\"Office 365 Exchange Online\",\"00000002-0000-0ff1-ce00-000000000000\",\"5334af3f-7842-4ac0-ab4f-fb3982197756\",\"f8cdef31-a31e-4b4a-93e4-5f571e91255a\",\"5334af3f-7842-4ac0-ab4f-fb3982197756\",\"Contoso\",\"{ip}\",\"Seattle, Washington, US\",\"{status}\",\"{code}\",\"{reason}\",\"{app}\",\"\",\"\",\"\",\"False\",\"False\",\"\",\"\",\"\",\"\",\"Single-factor authentication\",\"\",\"\",\"\",\"False\",\"\",\"64500\",\"False\",\"Azure AD\",\"None\",\"\",\"{}\",\"Not Applied\",\"\",\"\",\"\",\"\"\r\n",
            n,
            n,
            n,
            n,
            100 + rng.below(400)
        )?;
    }
    interactive.flush()?;
    non_interactive.flush()
}
