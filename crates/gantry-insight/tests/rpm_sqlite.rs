//! rpm's SQLite database read without SQLite: the fixture was written by the real SQLite
//! library (tests/fixtures/make-rpmdb.py: interior b-tree pages, an overflowing row, an index
//! table, a gpg-pubkey pseudo-package) and must list exactly the expected packages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gantry_insight::sbom::rpm::{RpmDatabaseKind, read_rpm_database};

#[test]
fn reads_every_package_of_a_real_sqlite_file() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut file = std::fs::File::open(format!("{fixtures}/rpmdb.sqlite")).unwrap();
    let packages =
        read_rpm_database(RpmDatabaseKind::Sqlite, &mut file, "/var/lib/rpm/rpmdb.sqlite").expect("readable");
    let got: Vec<String> = packages.iter().map(|p| format!("{} {}", p.name, p.version)).collect();
    let want: Vec<String> =
        std::fs::read_to_string(format!("{fixtures}/rpmdb.expected")).unwrap().lines().map(str::to_string).collect();
    assert_eq!(got, want);
    let big = packages.iter().find(|p| p.name == "big-license").unwrap();
    assert_eq!(
        big.license.as_deref().map(str::len),
        Some("Long license text ".len() * 400),
        "read through overflow pages"
    );
    assert_eq!(packages[1].purl, "pkg:rpm/openssl-libs@1%3A3.0.7-24.el9?arch=x86_64");
    let mut not_sqlite = std::io::Cursor::new(b"not a database".to_vec());
    let note = read_rpm_database(RpmDatabaseKind::Sqlite, &mut not_sqlite, "/x").expect_err("refused");
    assert!(note.contains("/x"), "{note}");
    let mut bdb = std::io::Cursor::new(Vec::new());
    assert!(
        read_rpm_database(RpmDatabaseKind::BerkeleyDb, &mut bdb, "/var/lib/rpm/Packages")
            .unwrap_err()
            .contains("Berkeley DB")
    );
}
