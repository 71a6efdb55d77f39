//! Micro-benchmarks of the hot functions, on fixture bytes and a generated
//! tenant: decoding, CSV and Format-List parsing with mapping, the audit of every
//! mailbox, the CSV report, and the PowerShell literal writer.
//! `cargo bench`; CI only compiles them (clippy --all-targets).

use std::borrow::Cow;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use exoauth::audit::{self, Options, Scope, Want};
use exoauth::emit::report::{Format, Report};
use exoauth::load::{self, SourceFile};
use exoauth::model::columns::Cmdlet;
use exoauth::model::{Environment, Protocol, Snapshot};

fn generated(n: usize) -> (tempfile::TempDir, Vec<SourceFile>) {
    let dir = tempfile::tempdir().unwrap();
    exoauth::generate::write_csv(&exoauth::generate::tenant(7, n, Environment::Online), dir.path())
        .unwrap();
    let sources =
        ["AuthenticationPolicy", "OrganizationConfig", "TransportConfig", "CasMailbox", "User"]
            .iter()
            .map(|stem| {
                let path: PathBuf = dir.path().join(format!("{stem}.csv"));
                SourceFile {
                    cmdlet: Cmdlet::from_stem(stem),
                    bytes: Cow::Owned(std::fs::read(&path).unwrap()),
                    path,
                }
            })
            .collect();
    (dir, sources)
}

fn options() -> Options {
    Options {
        want: Want::Allow,
        protocols: Protocol::ALL.to_vec(),
        environment: Environment::Online,
        as_of: time::macros::date!(2026 - 11 - 25),
        scope: Scope::default(),
        include_in_use: false,
    }
}

fn bench(c: &mut Criterion) {
    let (_dir, sources) = generated(20_000);
    let bytes: u64 = sources.iter().map(|s| s.bytes.len() as u64).sum();

    let mut g = c.benchmark_group("load");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("csv 20k mailboxes", |b| {
        b.iter(|| load::load_sources(black_box(sources.clone()), Environment::Online).unwrap())
    });
    let list = std::fs::read("fixtures/contoso-list/CasMailbox.txt").unwrap();
    g.throughput(Throughput::Bytes(list.len() as u64));
    g.bench_function("format-list CasMailbox", |b| {
        b.iter(|| {
            let text = std::str::from_utf8(&list).unwrap();
            exoauth::input::list::parse(&"CasMailbox.txt".into(), black_box(text)).unwrap()
        })
    });
    g.finish();

    let loaded = load::load_sources(sources, Environment::Online).unwrap();
    let snapshot: &Snapshot = &loaded.snapshot;
    let o = options();
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(snapshot.mailbox_count() as u64));
    g.bench_function("20k mailboxes", |b| b.iter(|| audit::audit(black_box(snapshot), &o)));
    let a = audit::audit(snapshot, &o);
    let dir = PathBuf::from("bench");
    let report = Report { dir: &dir, options: &o, loaded: &loaded, audit: &a, plan: None };
    g.bench_function("csv report 20k", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(4 << 20);
            Format::Csv.renderer().render(&report, &mut out).unwrap();
            out
        })
    });
    g.finish();

    c.bench_function("powershell literal", |b| {
        b.iter(|| {
            exoauth::emit::powershell::literal(black_box("Seán O’Brien's ‘mailbox’"), "name", None)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
