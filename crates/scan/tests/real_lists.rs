//! The public lists in ../shared/data (next to the repository, as the issues name them) load
//! without hand editing: the US .gov registry CSV (`Domain name`, `Organization name`) and the
//! world-universities JSON (`domains` lists, `alpha_two_code`).

use std::path::{Path, PathBuf};

use uptake_scan::targets::{Columns, Format, Item, TargetStream};

fn data(name: &str) -> PathBuf {
    let dir = std::env::var_os("UPTAKE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: set UPTAKE_SHARED_DATA to the directory of the public lists",
        path.display()
    );
    path
}

fn count(
    path: &Path,
    columns: &Columns,
) -> (
    TargetStream,
    usize,
    usize,
    Vec<uptake_scan::targets::Target>,
) {
    let stream = TargetStream::open(path, columns).unwrap();
    let again = TargetStream::open(path, columns).unwrap();
    let (mut targets, mut rejects, mut first) = (0, 0, vec![]);
    for item in again {
        match item.unwrap() {
            Item::Target(t) => {
                targets += 1;
                if first.len() < 3 {
                    first.push(t);
                }
            }
            Item::Reject(_) => rejects += 1,
            Item::Duplicate => {}
        }
    }
    (stream, targets, rejects, first)
}

#[test]
fn us_dotgov_csv_loads() {
    let (stream, targets, rejects, first) = count(
        &data("us-dotgov-current-full.csv"),
        &Columns {
            sector: Some("Domain type".into()),
            ..Default::default()
        },
    );
    assert_eq!(stream.format, Format::Csv);
    assert!(targets > 10_000, "{targets} targets");
    assert!(rejects * 100 < targets, "{rejects} rejects of {targets}");
    assert!(first[0].domain.ends_with(".gov"));
    assert!(first
        .iter()
        .all(|t| t.sector.is_some() && t.organisation.is_some()));
    assert!(stream.extra_columns.contains(&"city".to_string()));
}

#[test]
fn world_universities_json_loads() {
    let (stream, targets, rejects, first) = count(
        &data("world-universities-and-domains.json"),
        &Columns::default(),
    );
    assert_eq!(stream.format, Format::Json);
    assert!(targets > 5_000, "{targets} targets");
    assert!(rejects * 100 < targets, "{rejects} rejects of {targets}");
    let t = &first[0];
    assert_eq!(t.country.as_deref().map(str::len), Some(2), "{t:?}");
    assert!(t.organisation.is_some());
    assert!(stream.extra_columns.contains(&"input_country".to_string()));
}
