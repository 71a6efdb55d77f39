//! The whole audit from bytes: up to eight in-memory files (the seven cmdlets in
//! order, then a transcript), separated by `\x1e`, loaded with
//! `load_sources`, audited, planned, written as fix and rollback scripts, and
//! rendered in every report format.
#![no_main]

use std::borrow::Cow;
use std::path::PathBuf;

use exoauth::audit::{self, Options, Scope, Want};
use exoauth::emit::powershell::{self, Header};
use exoauth::emit::report::{Format, Report};
use exoauth::load::{SourceFile, load_sources};
use exoauth::model::columns::Cmdlet;
use exoauth::model::{Environment, Protocol};
use exoauth::plan::{self, Strategy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some((&flags, rest)) = bytes.split_first() else { return };
    let environment = if flags & 1 == 0 { Environment::Online } else { Environment::OnPrem };
    let mut sources = Vec::new();
    for (k, chunk) in rest.split(|&b| b == 0x1e).enumerate().take(8) {
        if chunk.is_empty() {
            continue;
        }
        let cmdlet = Cmdlet::ALL.get(k).copied();
        let name = cmdlet.map_or("transcript.txt".to_owned(), |c| format!("{}.txt", c.stem()));
        sources.push(SourceFile {
            cmdlet,
            path: PathBuf::from(name),
            bytes: Cow::Owned(chunk.to_vec()),
        });
    }
    let Ok(loaded) = load_sources(sources, environment) else { return };
    let options = Options {
        want: if flags & 2 == 0 { Want::Allow } else { Want::Block },
        protocols: Protocol::ALL.to_vec(),
        environment,
        as_of: time::macros::date!(2026 - 11 - 25),
        scope: Scope { identities: None, all_recipient_types: flags & 4 != 0 },
        include_in_use: false,
    };
    let result = audit::audit(&loaded.snapshot, &options);
    let dir = PathBuf::from("fuzz");
    let strategy = if flags & 8 == 0 { Strategy::LeastPrivilege } else { Strategy::EditPolicies };
    let plan = plan::plan(&result, strategy);
    let header = Header {
        tool_version: "fuzz".into(),
        generated: "2026-11-25T00:00:00Z".into(),
        inputs: Vec::new(),
        name: "fix.ps1".into(),
    };
    // Text that cannot be written safely is refused with an error, never a panic.
    let _ = powershell::fix_script(&plan, &header);
    let _ = powershell::rollback_script(&plan, &header);
    let report =
        Report { dir: &dir, options: &options, loaded: &loaded, audit: &result, plan: Some(&plan) };
    for format in [Format::Text, Format::Csv, Format::Json, Format::Markdown, Format::Html] {
        let mut out = Vec::new();
        format.renderer().render(&report, &mut out).expect("render to a Vec");
    }
});
