//! The built-in sample tenant: `fixtures/contoso`, compiled into the binary so that
//! `exoauth audit` with no folder shows what the tool does.

/// The sample's files as (file name, bytes).
pub const CONTOSO: &[(&str, &[u8])] = &[
    ("AuthenticationPolicy.csv", include_bytes!("../fixtures/contoso/AuthenticationPolicy.csv")),
    ("OrganizationConfig.csv", include_bytes!("../fixtures/contoso/OrganizationConfig.csv")),
    ("TransportConfig.csv", include_bytes!("../fixtures/contoso/TransportConfig.csv")),
    ("CasMailbox.csv", include_bytes!("../fixtures/contoso/CasMailbox.csv")),
    ("User.csv", include_bytes!("../fixtures/contoso/User.csv")),
];
