//! The runner's checks that happen before anything starts, called in-process. (Runs with real
//! servers go through the `uptake` binary: crates/cli/tests/testbed.rs.)

use std::ffi::OsString;
use std::path::Path;

use uptake_testbed::manifest::{Manifest, ManifestError, FORMAT, MANIFEST_FILE};
use uptake_testbed::run::{run, RunError};
use uptake_testbed::servers::{nsd_config, nsd_zones, unbound_config};

fn empty_manifest() -> Manifest {
    Manifest {
        format: FORMAT,
        seed: 1,
        domains: 0,
        addresses: vec![],
        local_routes: vec![],
        servers: vec![],
        resolver: "192.0.2.53:53".into(),
        ca: None,
        routing: None,
    }
}

fn cmd(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn a_directory_without_manifest_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(dir.path(), &cmd(&["true"])).unwrap_err();
    assert!(
        matches!(err, RunError::Manifest(ManifestError::NotATestbed(_))),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("is not a testbed") && !msg.contains('\n'),
        "{msg}"
    );
}

#[test]
fn a_missing_directory_is_rejected() {
    let err = run(Path::new("/nonexistent/uptake-testbed"), &cmd(&["true"])).unwrap_err();
    assert!(
        matches!(err, RunError::Manifest(ManifestError::NotATestbed(_))),
        "{err}"
    );
}

#[test]
fn a_manifest_of_another_format_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = empty_manifest();
    m.format = FORMAT + 1;
    m.save(dir.path()).unwrap();
    let err = run(dir.path(), &cmd(&["true"])).unwrap_err();
    assert!(
        matches!(err, RunError::Manifest(ManifestError::WrongFormat { .. })),
        "{err}"
    );
}

#[test]
fn a_garbled_manifest_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(MANIFEST_FILE), "{ not json").unwrap();
    let err = run(dir.path(), &cmd(&["true"])).unwrap_err();
    assert!(
        matches!(err, RunError::Manifest(ManifestError::Unreadable { .. })),
        "{err}"
    );
}

#[test]
fn an_unknown_command_is_rejected_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    empty_manifest().save(dir.path()).unwrap();
    match run(dir.path(), &cmd(&["no-such-command-uptake-runner", "x"])) {
        Err(RunError::CommandNotFound(c)) => assert_eq!(c, "no-such-command-uptake-runner"),
        Err(RunError::MissingPrograms { programs, .. }) => {
            eprintln!("skipping: {programs} not installed")
        }
        other => panic!("unexpected {other:?}"),
    }
    let not_executable = dir.path().join(MANIFEST_FILE);
    let err = run(dir.path(), &[not_executable.into_os_string()]).unwrap_err();
    assert!(
        matches!(
            err,
            RunError::CommandNotFound(_) | RunError::MissingPrograms { .. }
        ),
        "{err}"
    );
    assert!(matches!(
        run(dir.path(), &[]).unwrap_err(),
        RunError::NoCommand | RunError::MissingPrograms { .. }
    ));
}

#[test]
fn templates_carry_placeholders_and_zones() {
    let addrs = ["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
    let nsd = nsd_config(
        "tld",
        &addrs,
        &[
            ("nl".into(), "zones/nl.signed".into()),
            ("co.uk.".into(), "zones/co.uk.zone".into()),
        ],
    );
    assert!(nsd.contains("@TESTBED_DIR@/zones/nl.signed") && nsd.contains("@RUN_DIR@/"));
    assert_eq!(nsd_zones(&nsd), ["nl.", "co.uk."]);
    let unbound = unbound_config(&addrs, "servers/root.hints", "servers/root.ds");
    assert!(
        unbound.contains("interface: 2001:db8::1")
            && unbound.contains("@TESTBED_DIR@/servers/root.ds")
    );
    assert!(nsd_zones(&unbound).is_empty());
}
