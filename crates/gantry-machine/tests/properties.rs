//! Property tests of the machine layer's parsers and pure builders (proptest; cases per target:
//! `PROPTEST_CASES`, 256 by default; a longer run is documented in docs/reliability.md). Each
//! target is recorded with `gantry_testkit::reliability::fuzz`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
use std::ffi::OsString;
use std::path::PathBuf;

#[cfg(unix)]
use gantry_machine::accel::{Accel, HostOs};
#[cfg(unix)]
use gantry_machine::arch::GuestArch;
use gantry_machine::http1::{self, Chunked, Framing};
use gantry_machine::instance;
use gantry_machine::ports::{self, PortRule, Proto};
#[cfg(unix)]
use gantry_machine::qemu::{self, FwCfgFile, QemuSpec, QmpEndpoint, Share};
use gantry_machine::qemu_memory;
use gantry_machine::qemu_tuning::{self, QemuTuning};
use gantry_machine::qmp;
use gantry_machine::shares::{self, BindRequest, MountPolicy, SharedFolder};
use proptest::prelude::*;

/// Runs `test` over `strategy` and records the target (regressions kept beside this file).
fn check<S: Strategy>(target: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    gantry_testkit::prop::check(target, file!(), 0, strategy, test);
}

fn header_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ;=/.-]{0,20}".prop_map(|s| s.trim().to_owned())
}

#[test]
fn http_requests_round_trip_across_any_split() {
    let req = (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "HEAD"]),
        "/[a-z0-9/._%-]{0,30}",
        prop::collection::vec(("X-[A-Za-z]{1,8}", header_value()), 0..5),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
        prop::collection::vec(1usize..40, 1..6),
        any::<prop::sample::Index>(),
    );
    check("proxy HTTP/1.1 request reader", req, |(method, path, headers, body, chunked, sizes, split)| {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\n").into_bytes();
        for (k, v) in &headers {
            raw.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        if chunked {
            raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let mut rest = &body[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                raw.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                raw.extend_from_slice(&rest[..n]);
                raw.extend_from_slice(b"\r\n");
                rest = &rest[n..];
                i += 1;
            }
            raw.extend_from_slice(b"0\r\n\r\n");
        } else {
            raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            raw.extend_from_slice(&body);
        }
        let next = b"GET /_ping HTTP/1.1\r\n\r\n";
        raw.extend_from_slice(next);
        // the head is found whatever arrived so far
        let cut = split.index(raw.len() + 1);
        if let Ok(Some(h)) = http1::parse_head(&raw[..cut]) {
            prop_assert!(h.len <= cut);
        }
        let head = http1::parse_head(&raw).unwrap().unwrap();
        prop_assert_eq!(&head.method, method);
        prop_assert_eq!(head.headers.len(), headers.len() + 2);
        let rest = &raw[head.len..];
        let end = match head.framing().unwrap() {
            Framing::None => {
                prop_assert!(body.is_empty());
                0
            }
            Framing::Length(n) => {
                prop_assert_eq!(&rest[..n as usize], &body[..]);
                n as usize
            }
            Framing::Chunked => {
                // fed in two pieces at the split point: same body, same end
                let mut c = Chunked::default();
                let mut data = Vec::new();
                let at = split.index(rest.len() + 1);
                let mut buf = rest[..at].to_vec();
                let s1 = c.feed(&buf, Some(&mut data)).unwrap();
                buf.drain(..s1.consumed);
                buf.extend_from_slice(&rest[at..]);
                let s2 = c.feed(&buf, Some(&mut data)).unwrap();
                prop_assert!(s2.done);
                prop_assert_eq!(&data, &body);
                s1.consumed + s2.consumed
            }
        };
        // keep-alive: the next request starts right after the body
        prop_assert_eq!(&rest[end..], &next[..]);
        Ok(())
    });
}

#[test]
fn http_reader_never_panics_and_stays_bounded() {
    check("proxy HTTP/1.1 reader on arbitrary bytes", prop::collection::vec(any::<u8>(), 0..600), |bytes| {
        if let Ok(Some(h)) = http1::parse_head(&bytes) {
            prop_assert!(h.len <= bytes.len());
            let _ = h.framing();
            let _ = http1::api_path(&h.target);
        }
        let mut c = Chunked::default();
        if let Ok(step) = c.feed(&bytes, Some(&mut Vec::new())) {
            prop_assert!(step.consumed <= bytes.len());
        }
        Ok(())
    });
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{1,6}", Just("..".to_owned()), Just(".".to_owned()), Just(String::new())]
}

#[test]
fn mount_policy_allows_exactly_what_lies_in_a_share() {
    let policy = MountPolicy {
        shares: vec![SharedFolder::writable("/home/me"), SharedFolder { path: "/srv/ro".into(), read_only: true }],
        protected: vec!["/home/me/.local/share/gantry".into()],
    };
    let input = (
        prop::sample::select(vec!["/home/me", "/srv/ro", "/", "/home", "/home/me/.local/share/gantry", "/etc"]),
        prop::collection::vec(component(), 0..6),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    );
    check("mount policy decision", input, |(base, comps, writable, recursive, upper)| {
        let raw = format!("{base}/{}", comps.join("/"));
        let clean = shares::clean(std::path::Path::new(&raw));
        let bind = BindRequest { source: PathBuf::from(&raw), writable, recursive };
        let decision = policy.check_bind(&bind);
        // the oracle: the cleaned path decides
        let in_gantry = clean.starts_with("/home/me/.local/share/gantry");
        let share = if clean.starts_with("/home/me") {
            Some(false)
        } else if clean.starts_with("/srv/ro") {
            Some(true)
        } else {
            None
        };
        let over_gantry = !recursive && std::path::Path::new("/home/me/.local/share/gantry").starts_with(&clean);
        let allowed = !in_gantry && !over_gantry && share.is_some_and(|ro| !(ro && writable));
        prop_assert_eq!(decision.is_ok(), allowed, "{} ({})", raw, clean.display());
        // the same bind in a create body, whatever the key case, gets the same decision
        if recursive {
            let mode = if writable { "" } else { ":ro" };
            let (hc, binds) = if upper { ("HOSTCONFIG", "BINDS") } else { ("HostConfig", "Binds") };
            let body = format!(r#"{{"Image":"x","{hc}":{{"{binds}":["{raw}:/t{mode}"]}}}}"#);
            prop_assert_eq!(policy.check_body(body.as_bytes()).is_ok(), allowed, "{}", body);
        }
        Ok(())
    });
}

#[test]
fn mount_policy_never_panics_on_any_body() {
    let policy = MountPolicy { shares: vec![SharedFolder::writable("/tmp")], protected: vec![] };
    check("mount policy on arbitrary bodies", prop::collection::vec(any::<u8>(), 0..400), |bytes| {
        let _ = policy.check_body(&bytes);
        let _ = shares::binds_in(&bytes);
        Ok(())
    });
}

#[cfg(unix)]
/// QEMU's option parser: splits at single commas, `,,` is a literal comma.
fn qemu_split(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < v.len() {
        if v[i] == b',' {
            if v.get(i + 1) == Some(&b',') {
                out.last_mut().unwrap().push(b',');
                i += 2;
                continue;
            }
            out.push(Vec::new());
        } else {
            out.last_mut().unwrap().push(v[i]);
        }
        i += 1;
    }
    out
}

#[cfg(unix)]
#[test]
fn qemu_arguments_keep_one_value_per_option_whatever_the_path_holds() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let path_bytes = prop::collection::vec(
        prop_oneof![Just(b','), Just(b' '), Just(b'='), Just(b'\n'), Just(0xffu8), Just(b'/'), b'a'..=b'z'],
        1..30,
    );
    check("QEMU argument building", path_bytes, |bytes| {
        let mut p = b"/x/".to_vec();
        p.extend_from_slice(&bytes);
        let path = PathBuf::from(OsString::from_vec(p.clone()));
        let spec = QemuSpec {
            arch: GuestArch::X86_64,
            accel: Accel::Tcg,
            cpus: 1,
            memory_mib: 1024,
            kernel: path.join("k"),
            initrd: path.join("i"),
            rootfs: Some(path.join("r")),
            cmdline: "console=ttyS0".into(),
            data_disk: path.join("d"),
            qmp: QmpEndpoint::Unix(path.join("q")),
            events_qmp: None,
            guest_agent: None,
            console_log: path.join("c"),
            pid_file: path.join("p"),
            engine_host_port: 1,
            engine_guest_port: 2,
            engine_bind: "127.0.0.1".parse().unwrap(),
            shares: vec![Share { tag: "share0".into(), host_path: path.clone(), read_only: true }],
            fw_cfg: vec![FwCfgFile { name: "opt/gantry/ca.pem".into(), file: path.join("f") }],
            sandbox: true,
            tuning: QemuTuning::default(),
        };
        let args = qemu::build_args(&spec, HostOs::Linux);
        let value = |opt: &str, nth: usize| {
            args.iter()
                .enumerate()
                .filter(|(_, a)| a.as_bytes() == opt.as_bytes())
                .nth(nth)
                .map(|(i, _)| args[i + 1].as_bytes().to_vec())
                .unwrap()
        };
        let with = |suffix: &str| path.join(suffix.trim_start_matches('/')).as_os_str().as_bytes().to_vec();
        // comma-parsed options: exactly the expected keys, the path as one value
        let drive = qemu_split(&value("-drive", 1));
        prop_assert_eq!(drive.last().unwrap(), &[b"file=".as_slice(), &with("/d")].concat());
        prop_assert_eq!(drive.len(), 6); // if, format, discard, detect-zeroes, cache, file
        let virtfs = qemu_split(&value("-virtfs", 0));
        prop_assert_eq!(&virtfs[1], &[b"path=".as_slice(), &p].concat());
        prop_assert_eq!(virtfs.len(), 6);
        let fw = qemu_split(&value("-fw_cfg", 0));
        prop_assert_eq!(fw.len(), 2);
        prop_assert_eq!(&fw[1], &[b"file=".as_slice(), &with("/f")].concat());
        let chardev = qemu_split(&value("-chardev", 0));
        prop_assert_eq!(chardev.len(), 3);
        prop_assert_eq!(&chardev[2], &[b"path=".as_slice(), &with("/c")].concat());
        let qmp = qemu_split(&value("-qmp", 0));
        prop_assert_eq!(qmp.len(), 3);
        prop_assert_eq!(&qmp[0], &[b"unix:".as_slice(), &with("/q")].concat());
        // plain options: the path itself
        prop_assert_eq!(value("-kernel", 0), with("/k"));
        prop_assert_eq!(value("-pidfile", 0), with("/p"));
        Ok(())
    });
}

#[test]
fn qemu_smaps_breakdown_never_panics_and_counts_each_rss_once() {
    let line = prop_oneof![
        Just("7f0000000000-7f0080000000 rw-p 00000000 00:00 0 ".to_owned()),
        Just("7f0080000000-7f0082000000 rwxp 00000000 00:00 0 ".to_owned()),
        Just("5581c0a00000-5581c0f00000 r-xp 00200000 fe:01 1234 /usr/bin/qemu".to_owned()),
        Just("5581c2000000-5581c4000000 rw-p 00000000 00:00 0 [heap]".to_owned()),
        (0u64..100_000).prop_map(|k| format!("Rss: {k} kB")),
        "[ -~]{0,40}",
    ];
    check("QEMU smaps breakdown", (prop::collection::vec(line, 0..40), 0u64..4096), |(lines, guest_mib)| {
        let text = lines.join("\n");
        let m = qemu_memory::breakdown(&text, guest_mib);
        // never more than every Rss line of the text together
        let all: u64 = lines
            .iter()
            .filter_map(|l| l.strip_prefix("Rss:"))
            .filter_map(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .sum();
        prop_assert!(m.total_kib() <= all, "{m:?} > {all}");
        Ok(())
    });
}

#[test]
fn qemu_tuning_overrides_accept_exactly_their_range() {
    let value = prop_oneof![(0u32..2000).prop_map(|n| n.to_string()), "[a-z0-9 -]{0,8}"];
    check("QEMU tuning overrides", (value.clone(), value), |(tb, order)| {
        let env = |k: &str| match k {
            qemu_tuning::ENV_TB_SIZE => Some(tb.clone()),
            qemu_tuning::ENV_REPORTING_ORDER => Some(order.clone()),
            _ => None,
        };
        let tb_ok = tb.trim().parse::<u32>().is_ok_and(|n| (1..=qemu_tuning::MAX_TB_SIZE_MIB).contains(&n));
        let order_ok =
            order.trim() == "kernel" || order.trim().parse::<u8>().is_ok_and(|n| n <= qemu_tuning::MAX_REPORTING_ORDER);
        match QemuTuning::from_env(env) {
            Ok(t) => {
                prop_assert!(tb_ok && order_ok);
                prop_assert_eq!(Some(t.tcg_tb_size_mib), tb.trim().parse::<u32>().ok());
                let cmdline = t.kernel_cmdline("console=ttyS0");
                prop_assert_eq!(cmdline.contains("page_reporting_order="), order.trim() != "kernel");
            }
            Err(_) => prop_assert!(!(tb_ok && order_ok)),
        }
        Ok(())
    });
}

#[test]
fn usernet_parsing_reads_back_what_qemu_lists() {
    let rule = (any::<bool>(), any::<bool>(), 1u16.., any::<bool>());
    check("QEMU `info usernet` reader", prop::collection::vec(rule, 0..8), |rules| {
        let mut text = String::from(
            "Hub -1 (net0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n",
        );
        let mut want = std::collections::BTreeSet::new();
        for (udp, any_addr, port, guest_lo) in rules {
            if port == 2376 {
                continue;
            }
            let proto = if udp { Proto::Udp } else { Proto::Tcp };
            // QEMU prints an every-address rule's source as `*`
            let (bind, shown) = if any_addr { ("0.0.0.0", "*") } else { ("127.0.0.1", "127.0.0.1") };
            let guest = if guest_lo { "127.0.0.1" } else { "10.0.2.15" };
            let kind = if udp { "UDP" } else { "TCP" };
            text.push_str(&format!(
                "  {kind}[HOST_FORWARD]  13 {shown:>15} {port:>5} {guest:>15} {port:>5}     0     0\r\n"
            ));
            want.insert(PortRule { proto, bind: bind.parse().unwrap(), port, guest_loopback: guest_lo });
        }
        prop_assert_eq!(ports::parse_usernet(&text, 2376), want);
        Ok(())
    });
    check("QEMU `info usernet` reader on arbitrary text", ".{0,300}", |t| {
        let _ = ports::parse_usernet(&t, 1);
        Ok(())
    });
}

#[test]
fn instance_names_never_leave_the_root() {
    check("instance names", ".{0,40}", |name| {
        if instance::validate_name(&name).is_ok() {
            let root = instance::root_dir();
            let dir = root.join(&name);
            prop_assert_eq!(dir.parent(), Some(root.as_path()));
            prop_assert!(!name.contains(['/', '\\', '.', '~']));
        }
        Ok(())
    });
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z-]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A message QEMU may send, the line it sends, and what reading that line must give.
fn qmp_message() -> impl Strategy<Value = (String, qmp::Message)> {
    use serde_json::{Value, json};
    let data = prop::option::of(prop::collection::btree_map("[a-z-]{1,8}", json_value(), 0..4));
    prop_oneof![
        ("[A-Z_]{1,16}", data).prop_map(|(name, data)| {
            let mut line = json!({"event": name, "timestamp": {"seconds": 1, "microseconds": 2}});
            let data = data.map(|m| Value::Object(m.into_iter().collect()));
            if let Some(d) = &data {
                line["data"] = d.clone();
            }
            (line.to_string(), qmp::Message::Event(qmp::Event { name, data: data.unwrap_or(Value::Null) }))
        }),
        json_value().prop_map(|r| (json!({"return": r, "id": 1}).to_string(), qmp::Message::Return(r))),
        ("[A-Za-z]{1,12}", ".{1,30}").prop_map(|(class, desc)| {
            (json!({"error": {"class": class, "desc": desc}}).to_string(), qmp::Message::Error { class, desc })
        }),
    ]
}

#[test]
fn qmp_messages_read_back_as_sent() {
    check("QMP message reader", qmp_message(), |(line, want)| {
        prop_assert_eq!(qmp::parse_message(line.as_bytes()).unwrap(), want);
        Ok(())
    });
    check("QMP message reader on arbitrary bytes", prop::collection::vec(any::<u8>(), 0..200), |bytes| {
        if let Ok(qmp::Message::Event(ev)) = qmp::parse_message(&bytes) {
            prop_assert!(!ev.name.is_empty() || bytes.contains(&b'"'));
        }
        Ok(())
    });
}

/// Writes `out` (emptying it) in pieces of the sizes `pieces` cycles through (from `n`).
async fn write_in_pieces(
    w: &mut (impl tokio::io::AsyncWrite + Unpin),
    out: &mut Vec<u8>,
    pieces: &[usize],
    n: &mut usize,
) {
    use tokio::io::AsyncWriteExt;
    let bytes = std::mem::take(out);
    let mut at = 0;
    while at < bytes.len() {
        let k = pieces[*n % pieces.len()].min(bytes.len() - at);
        w.write_all(&bytes[at..at + k]).await.unwrap();
        w.flush().await.unwrap();
        at += k;
        *n += 1;
    }
}

/// A fake monitor sends events before and between replies, in pieces of any size: each reply
/// reaches its command and every event is kept, in order.
#[test]
fn qmp_sessions_keep_every_event_in_order_across_any_split() {
    let input = (
        prop::collection::vec(prop::collection::vec("[A-Z_]{1,12}", 0..4), 1..4),
        prop::collection::vec(1usize..64, 1..8),
    );
    check("QMP session (replies and events over a split stream)", input, |(events_before, pieces)| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use tokio::io::AsyncBufReadExt;
            let (client, server) = tokio::io::duplex(64);
            let script = events_before.clone();
            let monitor = tokio::spawn(async move {
                let (r, mut w) = tokio::io::split(server);
                let mut commands = tokio::io::BufReader::new(r).lines();
                let mut out = b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n".to_vec();
                let mut n = 0;
                write_in_pieces(&mut w, &mut out, &pieces, &mut n).await;
                let mut i = 0;
                while let Ok(Some(_)) = commands.next_line().await {
                    // the first command is qmp_capabilities: no events before its reply
                    if i > 0 {
                        for name in &script[(i - 1) % script.len()] {
                            out.extend_from_slice(format!("{{\"event\": \"{name}\"}}\r\n").as_bytes());
                        }
                    }
                    out.extend_from_slice(format!("{{\"return\": {i}}}\n").as_bytes());
                    write_in_pieces(&mut w, &mut out, &pieces, &mut n).await;
                    i += 1;
                }
            });
            let mut q = qmp::Qmp::over(client).await.unwrap();
            let mut want = Vec::new();
            for (i, names) in events_before.iter().enumerate() {
                let r = q.execute("query-status", None).await.unwrap();
                assert_eq!(r, serde_json::json!(i + 1));
                want.extend(names.iter().cloned());
            }
            let mut got = Vec::new();
            for _ in 0..want.len() {
                got.push(q.next_event().await.unwrap().name);
            }
            drop(q);
            monitor.await.unwrap();
            assert_eq!(got, want);
        });
        Ok(())
    });
}

#[test]
fn lines_are_bounded_and_found_across_any_split() {
    let input = (prop::collection::vec("[^\n]{0,40}", 0..6), 1usize..16, 1usize..64);
    check("bounded line reader (QMP, control socket)", input, |(lines, capacity, max)| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let text: Vec<u8> = lines.iter().flat_map(|l| [l.as_bytes(), b"\n"].concat()).collect();
        let got = rt.block_on(async {
            let mut r =
                gantry_machine::lines::LineReader::new(tokio::io::BufReader::with_capacity(capacity, &text[..]), max);
            let mut got = Vec::new();
            loop {
                match r.next_line().await {
                    Ok(Some(l)) => got.push(Ok(l)),
                    Ok(None) => break,
                    Err(e) => {
                        got.push(Err(e.kind()));
                        break;
                    }
                }
            }
            got
        });
        // every line up to the first one over the bound, then the error
        let mut want = Vec::new();
        for l in &lines {
            let raw = l.as_bytes();
            if raw.len() > max {
                want.push(Err(std::io::ErrorKind::InvalidData));
                break;
            }
            want.push(Ok(raw.strip_suffix(b"\r").unwrap_or(raw).to_vec()));
        }
        prop_assert_eq!(got, want);
        Ok(())
    });
}
