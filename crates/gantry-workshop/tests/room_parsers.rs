//! Property tests of what the room parses from other machines: join codes (typed by people),
//! server-sent event streams (read from the room server), lab outlines (from bundles).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use gantry_testkit::prop::proptest::prelude::*;
use gantry_testkit::prop::proptest::test_runner::TestCaseError;
use gantry_workshop::labs::LabOutline;
use gantry_workshop::room::code::JoinCode;
use gantry_workshop::room::participant::take_events;

#[test]
fn join_codes_round_trip_and_arbitrary_text_never_panics() {
    let codes = (any::<bool>(), any::<[u8; 16]>(), 1u16.., any::<[u8; 12]>(), any::<[u8; 8]>());
    gantry_testkit::prop::check("room join code: round trip", file!(), 0, codes, |(v4, ip, port, pin, secret)| {
        let ip =
            if v4 { IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])) } else { IpAddr::V6(Ipv6Addr::from(ip)) };
        let code = JoinCode { addr: SocketAddr::new(ip, port), pin, secret };
        prop_assert_eq!(JoinCode::parse(&code.to_string()), Ok(code));
        Ok(())
    });
    gantry_testkit::prop::check(
        "room join code: arbitrary text",
        file!(),
        0,
        "(GW1-)?[A-Z2-7 -]{0,80}|\\PC{0,60}",
        |text| {
            let _ = JoinCode::parse(&text);
            Ok(())
        },
    );
}

#[test]
fn event_streams_split_anywhere_give_the_same_events() {
    let events = proptest::collection::vec(("[a-z]{1,8}", "[^\r\n]{0,30}"), 0..6);
    gantry_testkit::prop::check("room event stream: chunking", file!(), 0, (events, 1usize..20), |(events, chunk)| {
        let text: String = events.iter().map(|(e, d)| format!(": c\nevent: {e}\ndata: {d}\n\n")).collect();
        let mut buffer = String::new();
        let mut got = Vec::new();
        for piece in text.as_bytes().chunks(chunk) {
            buffer.push_str(std::str::from_utf8(piece).map_err(|e| TestCaseError::reject(e.to_string()))?);
            got.extend(take_events(&mut buffer));
        }
        prop_assert_eq!(got, events);
        Ok(())
    });
}

#[test]
fn lab_outlines_from_arbitrary_text_never_panic() {
    gantry_testkit::prop::check(
        "lab outline: arbitrary lab.toml",
        file!(),
        0,
        "(\\[\\[steps\\]\\]\nid = \"[a-z]{0,5}\"\n|\\[ports\\]\nweb = [0-9]{1,6}\n|\\PC{0,20}\n){0,6}",
        |text| {
            let _ = LabOutline::parse("lab", &text);
            Ok(())
        },
    );
    gantry_testkit::reliability::bad_inputs("room: join codes, event streams, lab outlines", 3);
}
