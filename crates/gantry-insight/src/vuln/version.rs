//! Version order per ecosystem, as each one defines it: Debian (dpkg), Alpine (apk), PyPI
//! (PEP 440), and semantic versioning (npm, Go, crates.io).

use std::cmp::Ordering;

/// How an ecosystem orders its versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Dpkg,
    Apk,
    Pep440,
    Semver,
    /// RPM's `rpmvercmp` (for rpm-based distributions).
    Rpm,
}

/// Compares two versions under `scheme`.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Ordering {
    match scheme {
        Scheme::Dpkg => dpkg(a, b),
        Scheme::Apk => apk(a, b),
        Scheme::Pep440 => pep440(a, b),
        Scheme::Semver => semver(a, b),
        Scheme::Rpm => rpm(a, b),
    }
}

// --- Debian ---------------------------------------------------------------------------------

/// dpkg's order: `[epoch:]upstream[-revision]`, `~` before everything (even the end).
pub fn dpkg(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (u64, String, String) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, rest)) if e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty() => (e.parse().unwrap_or(0), rest),
            _ => (0, v),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u.to_string(), r.to_string()),
            None => (rest.to_string(), String::new()),
        };
        (epoch, upstream, revision)
    };
    let (ea, ua, ra) = split(a.trim());
    let (eb, ub, rb) = split(b.trim());
    ea.cmp(&eb).then_with(|| verrevcmp(&ua, &ub)).then_with(|| verrevcmp(&ra, &rb))
}

fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit runs (by `dpkg_order`) and numbers.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ac, bc) = (dpkg_order(a.get(i).copied()), dpkg_order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && j < b.len() && a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if a.get(i).is_some_and(u8::is_ascii_digit) {
            return Ordering::Greater;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

// --- RPM ------------------------------------------------------------------------------------

/// RPM's order for `[epoch:]version[-release]`: `rpmvercmp` on each part (alphanumeric runs,
/// numbers above letters, `~` lowest, `^` just above the end).
pub fn rpm(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (u64, String, String) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
            _ => (0, v),
        };
        let (version, release) = rest.rsplit_once('-').map_or((rest, ""), |(v, r)| (v, r));
        (epoch, version.to_string(), release.to_string())
    };
    let (ea, va, ra) = split(a.trim());
    let (eb, vb, rb) = split(b.trim());
    ea.cmp(&eb).then_with(|| rpmvercmp(&va, &vb)).then_with(|| rpmvercmp(&ra, &rb))
}

fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && !a[i].is_ascii_alphanumeric() && a[i] != b'~' && a[i] != b'^' {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() && b[j] != b'~' && b[j] != b'^' {
            j += 1;
        }
        match (a.get(i), b.get(j)) {
            (Some(b'~'), Some(b'~')) => {
                i += 1;
                j += 1;
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), Some(b'^')) => {
                i += 1;
                j += 1;
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            _ => {}
        }
        let numeric = a[i].is_ascii_digit();
        let (ra, ni) = alnum_run(a, i, numeric);
        let (rb, nj) = alnum_run(b, j, numeric);
        if rb.is_empty() {
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let ordering = if numeric {
            let trim = |s: &[u8]| -> Vec<u8> { s.iter().skip_while(|c| **c == b'0').copied().collect() };
            let (ta, tb) = (trim(ra), trim(rb));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(&tb))
        } else {
            ra.cmp(rb)
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
        i = ni;
        j = nj;
    }
}

/// The run of digits (or letters) starting at `start`, and where it ends.
fn alnum_run(s: &[u8], start: usize, numeric: bool) -> (&[u8], usize) {
    let end = s[start..]
        .iter()
        .position(|c| if numeric { !c.is_ascii_digit() } else { !c.is_ascii_alphabetic() })
        .map_or(s.len(), |p| start + p);
    (&s[start..end], end)
}

// --- Alpine ---------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ApkVersion {
    numbers: Vec<String>,
    letter: Option<char>,
    /// (rank, number): pre-release suffixes rank below 0, post-release ones above.
    suffixes: Vec<(i32, u64)>,
    revision: u64,
}

const APK_SUFFIXES: [(&str, i32); 9] =
    [("alpha", -4), ("beta", -3), ("pre", -2), ("rc", -1), ("cvs", 1), ("svn", 2), ("git", 3), ("hg", 4), ("p", 5)];

fn parse_apk(version: &str) -> ApkVersion {
    let (main, revision) = match version.rsplit_once("-r") {
        Some((m, r)) if r.chars().all(|c| c.is_ascii_digit()) && !r.is_empty() => (m, r.parse().unwrap_or(0)),
        _ => (version, 0),
    };
    let mut parts = main.split('_');
    let head = parts.next().unwrap_or_default();
    let (numbers_text, letter) = match head.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => (&head[..head.len() - 1], Some(c)),
        _ => (head, None),
    };
    let numbers = numbers_text.split('.').map(str::to_string).collect();
    let suffixes = parts
        .map(|s| {
            let name: String = s.chars().take_while(char::is_ascii_alphabetic).collect();
            let number = s[name.len()..].parse().unwrap_or(0);
            let rank = APK_SUFFIXES.iter().find(|(n, _)| *n == name).map_or(0, |(_, r)| *r);
            (rank, number)
        })
        .collect();
    ApkVersion { numbers, letter, suffixes, revision }
}

/// apk's order: dotted numbers (a part with a leading zero after the first compares as a
/// fraction), an optional letter, `_alpha`…`_rc` below the release and `_p` etc. above, `-rN`.
pub fn apk(a: &str, b: &str) -> Ordering {
    let (a, b) = (parse_apk(a.trim()), parse_apk(b.trim()));
    let longest = a.numbers.len().max(b.numbers.len());
    for k in 0..longest {
        let ordering = match (a.numbers.get(k), b.numbers.get(k)) {
            (Some(x), Some(y)) if k > 0 && (x.starts_with('0') || y.starts_with('0')) => x.cmp(y),
            (Some(x), Some(y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.letter
        .cmp(&b.letter)
        .then_with(|| {
            let longest = a.suffixes.len().max(b.suffixes.len());
            (0..longest)
                .map(|k| {
                    let none = (0, 0);
                    a.suffixes.get(k).unwrap_or(&none).cmp(b.suffixes.get(k).unwrap_or(&none))
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| a.revision.cmp(&b.revision))
}

// --- PEP 440 --------------------------------------------------------------------------------

/// A PEP 440 version's sort key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pep440Key {
    epoch: u64,
    release: Vec<u64>,
    /// (rank, n): dev-only releases rank 0, a/b/rc 1/2/3, no pre-release 4.
    pre: (u8, u64),
    /// 0: none; else 1 + n.
    post: u64,
    /// u64::MAX: none (sorts after every dev release).
    dev: u64,
    local: Vec<LocalPart>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Text(String),
    Number(u64),
}

fn pep440_key(version: &str) -> Pep440Key {
    let lower = version.trim().to_ascii_lowercase();
    let lower = lower.strip_prefix('v').unwrap_or(&lower);
    let (public, local) = lower.split_once('+').map_or((lower, ""), |(p, l)| (p, l));
    let (epoch, rest) = match public.split_once('!') {
        Some((e, r)) => (e.parse().unwrap_or(0), r),
        None => (0, public),
    };
    let release_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let mut release: Vec<u64> =
        rest[..release_end].split('.').filter(|p| !p.is_empty()).map(|p| p.parse().unwrap_or(0)).collect();
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    // Split the tail into labelled numbers: a1, .post2, -3 (implicit post), .dev4.
    let tail = &rest[release_end..];
    let mut pre: Option<(u8, u64)> = None;
    let mut post: Option<u64> = None;
    let mut dev: Option<u64> = None;
    let mut chars = tail.chars().peekable();
    while chars.peek().is_some() {
        let mut separator = false;
        while chars.peek().is_some_and(|c| matches!(c, '.' | '-' | '_')) {
            separator = true;
            chars.next();
        }
        let label: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_alphabetic)).collect();
        while chars.peek().is_some_and(|c| matches!(c, '.' | '-' | '_')) {
            chars.next();
        }
        let digits: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_digit)).collect();
        let n = digits.parse().unwrap_or(0);
        match label.as_str() {
            "a" | "alpha" => pre = Some((1, n)),
            "b" | "beta" => pre = Some((2, n)),
            "c" | "rc" | "pre" | "preview" => pre = Some((3, n)),
            "post" | "rev" | "r" => post = Some(n),
            "dev" => dev = Some(n),
            "" if separator && !digits.is_empty() => post = Some(n),
            "" if digits.is_empty() => break,
            _ => {}
        }
    }
    let pre = match (pre, post, dev) {
        (Some(p), _, _) => p,
        (None, None, Some(_)) => (0, 0),
        _ => (4, 0),
    };
    let local = local
        .split(['.', '-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map_or_else(|_| LocalPart::Text(p.to_string()), LocalPart::Number))
        .collect();
    Pep440Key { epoch, release, pre, post: post.map_or(0, |p| p + 1), dev: dev.unwrap_or(u64::MAX), local }
}

/// PEP 440's order (what pip and PyPI use).
pub fn pep440(a: &str, b: &str) -> Ordering {
    pep440_key(a).cmp(&pep440_key(b))
}

// --- SemVer ---------------------------------------------------------------------------------

/// Semantic versioning's order (npm, Go modules with their `v`, crates.io); build metadata
/// is ignored, missing parts count as 0.
pub fn semver(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| -> (Vec<u64>, Option<Vec<String>>) {
        let v = v.trim().trim_start_matches(['v', '=']);
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p.split('.').map(str::to_string).collect())),
            None => (v, None),
        };
        let mut numbers: Vec<u64> = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        numbers.resize(3.max(numbers.len()), 0);
        (numbers, pre)
    };
    let (na, pa) = parse(a);
    let (nb, pb) = parse(b);
    na.cmp(&nb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            for (p, q) in x.iter().zip(&y) {
                let ordering = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            x.len().cmp(&y.len())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    fn check(scheme: Scheme, cases: &[(&str, &str, Ordering)]) {
        for (a, b, want) in cases {
            assert_eq!(compare(scheme, a, b), *want, "{scheme:?}: {a} vs {b}");
            assert_eq!(compare(scheme, b, a), want.reverse(), "{scheme:?}: {b} vs {a}");
        }
    }

    #[test]
    fn debian() {
        check(
            Scheme::Dpkg,
            &[
                ("1.0", "1.0", Equal),
                ("1.0-1", "1.0-2", Less),
                ("1:0.9", "2.0", Greater),
                ("1.0~rc1", "1.0", Less),
                ("1.0~~", "1.0~", Less),
                ("7.88.1-10+deb12u5", "7.88.1-10+deb12u8", Less),
                ("7.88.1-10+deb12u10", "7.88.1-10+deb12u8", Greater),
                ("2.36-9+deb12u4", "2.36-9", Greater),
                ("1.2a", "1.2+", Less),
                ("0001.0", "1.0", Equal),
                ("1.0.0", "1.0", Greater),
            ],
        );
    }

    #[test]
    fn alpine() {
        check(
            Scheme::Apk,
            &[
                ("1.36.1-r15", "1.36.1-r16", Less),
                ("1.36.1-r15", "1.37.0-r0", Less),
                ("3.1.4_p1-r0", "3.1.4-r0", Greater),
                ("3.1.4_rc1-r0", "3.1.4-r0", Less),
                ("1.1.1w-r1", "1.1.1v-r5", Greater),
                ("1.2.10", "1.2.9", Greater),
                ("1.02", "1.1", Less),
                ("2.4.58-r1", "2.4.58-r1", Equal),
            ],
        );
    }

    #[test]
    fn python() {
        check(
            Scheme::Pep440,
            &[
                ("2.31.0", "2.31", Equal),
                ("1.0.dev0", "1.0a1", Less),
                ("1.0a1", "1.0b1", Less),
                ("1.0rc1", "1.0", Less),
                ("1.0", "1.0.post1", Less),
                ("1.0-1", "1.0.post1", Equal),
                ("1!0.1", "2.0", Greater),
                ("1.0+local.1", "1.0", Greater),
                ("1.0.post1.dev1", "1.0.post1", Less),
                ("2.0.0", "10.0", Less),
            ],
        );
    }

    #[test]
    fn semantic() {
        check(
            Scheme::Semver,
            &[
                ("1.2.3", "1.2.4", Less),
                ("v1.22.1", "1.22.1", Equal),
                ("1.0.0-alpha", "1.0.0", Less),
                ("1.0.0-alpha.1", "1.0.0-alpha.beta", Less),
                ("1.0.0-beta.11", "1.0.0-beta.2", Greater),
                ("1.0.0+build", "1.0.0", Equal),
                ("4.17.21", "4.17.3", Greater),
            ],
        );
    }

    #[test]
    fn rpm_order() {
        check(
            Scheme::Rpm,
            &[
                ("1.0-1.fc38", "1.0-2.fc38", Less),
                ("1:1.0", "2.0", Greater),
                ("1.0~rc1", "1.0", Less),
                ("1.0^git1", "1.0", Greater),
                ("1.10", "1.9", Greater),
                ("1.0a", "1.0", Greater),
                ("2.0.1", "2.0.1", Equal),
            ],
        );
    }
}
