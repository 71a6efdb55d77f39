//! Prints how long each stage takes on an export folder (read, load, audit,
//! render CSV): `cargo run --release --example stages -- DIR`. A profiling aid for
//! the numbers in scripts/bench.sh.

use std::time::Instant;
fn main() {
    let dir = std::path::Path::new(&std::env::args().nth(1).unwrap()).to_owned();
    let t = Instant::now();
    let mut sources = Vec::new();
    for (stem, name) in [
        ("AuthenticationPolicy", "AuthenticationPolicy.csv"),
        ("OrganizationConfig", "OrganizationConfig.csv"),
        ("TransportConfig", "TransportConfig.csv"),
        ("CasMailbox", "CasMailbox.csv"),
        ("User", "User.csv"),
    ] {
        sources.push(exoauth::load::SourceFile {
            cmdlet: exoauth::model::columns::Cmdlet::from_stem(stem),
            path: dir.join(name),
            bytes: std::borrow::Cow::Owned(std::fs::read(dir.join(name)).unwrap()),
        });
    }
    eprintln!("read {:?}", t.elapsed());
    let t = Instant::now();
    let loaded = exoauth::load::load_sources(sources, exoauth::model::Environment::Online).unwrap();
    eprintln!("load {:?}", t.elapsed());
    let o = exoauth::audit::Options {
        want: exoauth::audit::Want::Allow,
        protocols: exoauth::model::Protocol::ALL.to_vec(),
        environment: exoauth::model::Environment::Online,
        as_of: time::macros::date!(2026 - 11 - 25),
        scope: Default::default(),
        include_in_use: false,
    };
    let t = Instant::now();
    let a = exoauth::audit::audit(&loaded.snapshot, &o);
    eprintln!("audit {:?}", t.elapsed());
    let t = Instant::now();
    let r = exoauth::emit::report::Report {
        dir: &dir,
        options: &o,
        loaded: &loaded,
        audit: &a,
        plan: None,
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create("/tmp/r2.csv").unwrap());
    exoauth::emit::report::Format::Csv.renderer().render(&r, &mut out).unwrap();
    eprintln!("render {:?}", t.elapsed());
}
