//! Property tests / fuzzing of every parser of the engine crate (proptest on stable Rust):
//! arbitrary input never panics, valid input round-trips, streams give the same result however
//! they are chunked. `PROPTEST_CASES=20000 cargo test -p gantry-engine --test properties` runs
//! a longer campaign (docs/reliability.md). Each target is recorded in the reliability log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gantry_engine::dockerignore::DockerIgnore;
use gantry_engine::logs::{LineSplitter, MAX_LINE_BYTES};
use gantry_engine::{Endpoint, LogLine, MountSpec, OutputStream, PortSpec, Utf8Decoder};
use gantry_testkit::prop::check;
use gantry_testkit::prop::proptest;
use gantry_testkit::prop::proptest::prelude::*;

#[test]
fn endpoint_parse() {
    let endpoint = prop_oneof![
        "/[a-z0-9._-]{1,20}(/[a-z0-9._-]{1,20}){0,3}".prop_map(|p| Endpoint::Unix(p.into())),
        ("[a-z][a-z0-9-]{0,15}(\\.[a-z0-9-]{1,10}){0,2}|127\\.0\\.0\\.[0-9]{1,2}|\\[::1\\]", 1u16..)
            .prop_map(|(h, p)| Endpoint::Tcp { address: format!("{h}:{p}"), tls: None }),
        "[a-zA-Z0-9_.-]{1,30}".prop_map(|n| Endpoint::NamedPipe(format!("//./pipe/{n}"))),
    ];
    check("endpoint parse: round trip of unix, tcp, npipe", file!(), 0, endpoint, |e| {
        prop_assert_eq!(Endpoint::parse(&e.to_string()).ok(), Some(e));
        Ok(())
    });
    check("endpoint parse: arbitrary text", file!(), 0, any::<String>(), |text| {
        let _ = Endpoint::parse(&text);
        for scheme in ["unix://", "tcp://", "https://", "npipe://"] {
            let _ = Endpoint::parse(&format!("{scheme}{text}"));
        }
        Ok(())
    });
}

#[test]
fn image_reference() {
    // Docker's grammar: lowercase alphanumeric runs joined by `_`, `__` or dashes (a first
    // component with a `.` would be a registry host).
    let component = "[a-z0-9]{1,4}((_|__|-+)[a-z0-9]{1,4}){0,2}";
    let reference = (
        proptest::option::of("(localhost|[a-z0-9]{1,8}\\.[a-z]{2,5})(:[1-9][0-9]{0,3})?"),
        proptest::collection::vec(component, 1..4),
        proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        proptest::option::of("[0-9a-f]{64}"),
    )
        .prop_map(|(registry, path, tag, digest)| {
            let mut r = registry.map(|h| format!("{h}/")).unwrap_or_default();
            r.push_str(&path.join("/"));
            if let Some(t) = tag {
                r.push_str(&format!(":{t}"));
            }
            if let Some(d) = digest {
                r.push_str(&format!("@sha256:{d}"));
            }
            r
        })
        .prop_filter("at most 255 characters", |r| r.len() <= 255);
    check("image reference: valid references are accepted", file!(), 0, reference, |r| {
        prop_assert!(gantry_engine::images::validate_reference(&r).is_ok(), "{} refused", r);
        let (repo, _) = gantry_engine::images::split_tag(&r);
        prop_assert!(r.starts_with(repo));
        Ok(())
    });
    check("image reference: arbitrary text", file!(), 0, any::<String>(), |text| {
        let _ = gantry_engine::images::validate_reference(&text);
        let _ = gantry_engine::images::split_tag(&text);
        let _ = gantry_engine::images::registry_of(&text);
        Ok(())
    });
}

#[test]
fn run_request_port_and_mount_specs() {
    let port = (
        proptest::option::of(prop_oneof![Just("127.0.0.1"), Just("0.0.0.0"), Just("::1"), Just("10.1.2.3")]),
        proptest::option::of(1u16..),
        1u16..,
        prop_oneof![Just("tcp"), Just("udp"), Just("sctp")],
    );
    check("run request: port spec round trip", file!(), 0, port, |(ip, host, container, proto)| {
        let mut text = String::new();
        if let Some(ip) = ip {
            text.push_str(&if ip.contains(':') { format!("[{ip}]:") } else { format!("{ip}:") });
            text.push_str(&host.map(|h| h.to_string()).unwrap_or_default());
            text.push(':');
        } else if let Some(h) = host {
            text.push_str(&format!("{h}:"));
        }
        text.push_str(&format!("{container}/{proto}"));
        let spec = PortSpec::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(spec.host_ip.as_deref(), ip);
        prop_assert_eq!(spec.host_port, host);
        prop_assert_eq!(spec.container_port, container);
        prop_assert_eq!(spec.protocol.as_str(), proto);
        Ok(())
    });
    let mount = ("[a-z0-9][a-z0-9_.-]{0,20}|/[a-z0-9_./-]{0,30}", "/[a-z0-9_./-]{0,30}", any::<bool>());
    check("run request: mount spec round trip", file!(), 0, mount, |(source, target, ro)| {
        let text = format!("{source}:{target}{}", if ro { ":ro" } else { "" });
        let spec = MountSpec::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(
            (spec.source.as_str(), spec.target.as_str(), spec.read_only),
            (source.as_str(), target.as_str(), ro)
        );
        Ok(())
    });
    check("run request: arbitrary port and mount text", file!(), 0, any::<String>(), |text| {
        let _ = PortSpec::parse(&text);
        let _ = MountSpec::parse(&text);
        Ok(())
    });
}

/// Output bytes with what makes splitting hard: newlines, lone and paired `\r`, multi-byte
/// characters, invalid UTF-8, and runs longer than a line may be.
fn output_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'\n'), Just(b'\r'), Just(b' '), Just(0xc3), Just(0xa9), Just(0xff)], 0..40),
        1 => (MAX_LINE_BYTES - 10..MAX_LINE_BYTES + 300).prop_map(|n| vec![b'x'; n]),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn split_all(splitter: &mut LineSplitter, chunks: &[(OutputStream, &[u8])]) -> Vec<LogLine> {
    let mut out = Vec::new();
    for (stream, chunk) in chunks {
        out.extend(splitter.push(*stream, chunk));
        assert!(splitter.buffered_bytes() <= 2 * (MAX_LINE_BYTES + 1), "buffer grew to {}", splitter.buffered_bytes());
    }
    out.extend(splitter.finish());
    out
}

#[test]
fn log_line_splitter() {
    let input = (output_bytes(), proptest::collection::vec(0usize..1000, 0..20), any::<bool>());
    check(
        "log line splitter: same lines however the bytes are chunked; bounded buffer",
        file!(),
        0,
        input,
        |(bytes, cuts, stamps)| {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c * bytes.len() / 1000).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                chunks.push((OutputStream::Stdout, &bytes[at..cut]));
                at = cut;
            }
            let whole = split_all(&mut LineSplitter::new(stamps), &[(OutputStream::Stdout, &bytes)]);
            let chunked = split_all(&mut LineSplitter::new(stamps), &chunks);
            prop_assert_eq!(&whole, &chunked);
            // Interleaving another stream changes nothing for this one.
            let mut mixed = Vec::new();
            for (i, c) in chunks.iter().enumerate() {
                mixed.push(*c);
                mixed.push((OutputStream::Stderr, if i % 2 == 0 { &b"e\r"[..] } else { &b"rr\n"[..] }));
            }
            let mixed: Vec<LogLine> = split_all(&mut LineSplitter::new(stamps), &mixed)
                .into_iter()
                .filter(|l| l.stream == OutputStream::Stdout)
                .collect();
            prop_assert_eq!(&whole, &mixed);
            // Each byte gives at most one character (an invalid one gives U+FFFD).
            prop_assert!(whole.iter().all(|l| l.text.chars().count() <= MAX_LINE_BYTES));
            Ok(())
        },
    );
}

#[test]
fn utf8_decoder() {
    let input =
        (proptest::collection::vec(any::<u8>(), 0..200), proptest::collection::vec(0usize..200, 0..10), "\\PC{0,40}");
    check("utf-8 decoder: same text however the bytes are chunked", file!(), 1, input, |(noise, cuts, text)| {
        for bytes in [noise, text.into_bytes()] {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut decoder = Utf8Decoder::default();
            let mut out = String::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                out.push_str(&decoder.push(&bytes[at..cut]));
                at = cut;
            }
            out.push_str(&decoder.finish());
            prop_assert_eq!(out, String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(())
    });
}

#[test]
fn volume_listing_tar_parser() {
    let entries = proptest::collection::vec(("[a-z]{1,8}(/[a-z]{1,8}){0,2}", 0usize..3000, any::<bool>()), 0..12);
    check(
        "volume listing tar parser: archives list their entries, cut ones a prefix",
        file!(),
        0,
        (entries, any::<u16>()),
        |(entries, cut)| {
            let mut b = tar::Builder::new(Vec::new());
            let mut names = std::collections::BTreeSet::new();
            for (name, size, dir) in &entries {
                if !names.insert(name.clone()) {
                    continue;
                }
                let mut h = tar::Header::new_gnu();
                h.set_mode(0o644);
                if *dir {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, name, std::io::empty()).unwrap();
                } else {
                    h.set_size(*size as u64);
                    b.append_data(&mut h, name, &vec![b'z'; *size][..]).unwrap();
                }
            }
            let bytes = b.into_inner().unwrap();
            let listing = gantry_engine::volume_files::read_listing(bytes.as_slice(), u64::MAX).unwrap();
            prop_assert!(!listing.truncated);
            prop_assert_eq!(
                listing.entries.iter().map(|e| e.path.clone()).collect::<std::collections::BTreeSet<_>>(),
                names.clone()
            );
            let cut = usize::from(cut) % (bytes.len() + 1);
            let partial = gantry_engine::volume_files::read_listing(&bytes[..cut], u64::MAX).unwrap();
            prop_assert!(partial.entries.iter().all(|e| names.contains(&e.path)));
            Ok(())
        },
    );
    check(
        "volume listing tar parser: arbitrary bytes",
        file!(),
        0,
        proptest::collection::vec(any::<u8>(), 0..4096),
        |bytes| {
            let _ = gantry_engine::volume_files::read_listing(bytes.as_slice(), u64::MAX);
            let _ = gantry_engine::volume_files::check_archive(bytes.as_slice());
            Ok(())
        },
    );
}

/// Docker's own matcher, transcribed: moby's `patternmatcher` turns a cleaned pattern into a
/// regular expression; a path is excluded when the last pattern matching it or a parent decides so.
fn docker_regex(pattern: &str) -> regex::Regex {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                re.push_str(if i >= chars.len() { ".*" } else { "(.*/)?" });
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '.' | '$' | '+' | '(' | ')' | '|' | '{' | '}' => {
                re.push('\\');
                re.push(c);
            }
            '\\' => {
                re.push('\\');
                re.push(chars[i]);
                i += 1;
            }
            other => re.push(other),
        }
    }
    re.push('$');
    regex::RegexBuilder::new(&re).dot_matches_new_line(true).build().expect("a valid translation")
}

fn docker_excludes(lines: &[(String, bool)], path: &str) -> bool {
    let parents: Vec<&str> = path.split('/').collect();
    let mut excluded = false;
    for (pattern, exception) in lines {
        let re = docker_regex(pattern);
        let hit = re.is_match(path) || (1..parents.len()).any(|n| re.is_match(&parents[..n].join("/")));
        if hit {
            excluded = !exception;
        }
    }
    excluded
}

#[test]
fn dockerignore() {
    // Patterns from a small alphabet with every wildcard, and paths from the same letters, so
    // that matches are frequent; the reference is Docker's regex translation.
    let pattern = "(\\*\\*/|\\*|\\?|a|b|/|\\[ab\\]|\\[\\^a\\]|\\.|\\\\\\*){1,7}";
    let lines = proptest::collection::vec((pattern, any::<bool>()), 1..5);
    let paths = proptest::collection::vec("[ab*][ab.*]{0,2}(/[ab*][ab.*]{0,2}){0,3}", 1..8);
    check("dockerignore: agrees with Docker's regex semantics", file!(), 0, (lines, paths), |(lines, paths)| {
        let text: String = lines.iter().map(|(p, ex)| format!("{}{p}\n", if *ex { "!" } else { "" })).collect();
        let ignore = DockerIgnore::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let cleaned: Vec<(String, bool)> = lines
            .iter()
            .map(|(p, ex)| {
                let c = clean(p);
                (c.strip_prefix('/').filter(|r| !r.is_empty()).unwrap_or(&c).to_string(), *ex)
            })
            .collect();
        for path in &paths {
            prop_assert_eq!(ignore.is_excluded(path), docker_excludes(&cleaned, path), "{:?} on {}", text, path);
        }
        Ok(())
    });
    let hostile = proptest::collection::vec(
        prop_oneof![
            Just("*"),
            Just("**"),
            Just("?"),
            Just("["),
            Just("]"),
            Just("^"),
            Just("-"),
            Just("\\"),
            Just("/"),
            Just("!"),
            Just("a"),
            Just("#"),
            Just(" ")
        ],
        0..300,
    );
    check(
        "dockerignore: arbitrary patterns never hang or panic",
        file!(),
        0,
        (hostile, "[a/]{0,3000}"),
        |(parts, path)| {
            let text = parts.concat();
            if let Ok(ignore) = DockerIgnore::parse(&text) {
                let _ = ignore.is_excluded(&path);
                let _ = ignore.may_include_below(&path);
            }
            Ok(())
        },
    );
}

/// Go's `path.Clean` for the reference (the pattern text has no `..` here).
/// Go's `filepath.Clean`, as moby applies it to each pattern: `.` dropped, `..` removes the element
/// before it (kept at the start of a relative path, dropped at the root), no empty elements.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
        match (c, parts.last()) {
            ("..", Some(last)) if *last != ".." => {
                parts.pop();
            }
            ("..", _) if rooted => {}
            _ => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}
