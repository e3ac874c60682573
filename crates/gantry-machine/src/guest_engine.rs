//! What the guest's console says about its engine after start-up. The guest's init supervises
//! dockerd: when it exits on its own (a crash, the guest kernel's OOM killer) the init prints how
//! it ended and the end of its log, and starts it again a bounded number of times
//! (vm-images/init/stage2.sh, section 9). The host reads those lines to say why the engine went
//! away and to keep waiting while it comes back.

use crate::image::{ERROR_LINE_PREFIX, LINE_PREFIX};

/// The init's line when dockerd exited on its own (followed by ` (status N); ...`).
const EXITED: &str = "dockerd: exited on its own";
/// The init's line when it started dockerd again.
const STARTED_AGAIN: &str = "dockerd: started again";
/// The init's line when it stopped restarting dockerd.
const GAVE_UP: &str = "not starting it again";

/// The guest engine's exits and restarts as the console reports them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EngineRestarts {
    /// How many times the init started dockerd again.
    pub restarts: u32,
    /// The last exit, as the init worded it, e.g. `dockerd: exited on its own (status 137)`.
    pub last_exit: Option<String>,
    /// The init stopped restarting it: the engine stays down until the VM restarts.
    pub gave_up: bool,
}

/// Reads the exits and restarts from the console's text (other lines, including the quoted end
/// of dockerd's log, are ignored).
pub fn engine_restarts(console: &str) -> EngineRestarts {
    let mut r = EngineRestarts::default();
    for line in console.lines() {
        if let Some(e) = line.strip_prefix(ERROR_LINE_PREFIX).map(str::trim_start) {
            if e.starts_with(EXITED) {
                r.last_exit = Some(e.split(';').next().unwrap_or(e).trim_end().to_owned());
            } else if e.starts_with("dockerd: ") && e.contains(GAVE_UP) {
                r.gave_up = true;
            }
        } else if line.strip_prefix(LINE_PREFIX).is_some_and(|l| l.starts_with(STARTED_AGAIN)) {
            r.restarts = r.restarts.saturating_add(1);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONSOLE: &str = "\
gantry-init: dockerd: answers on /var/run/docker.sock [71.62s]
gantry-init: engine ready
gantry-init: error: dockerd: exited on its own (status 137); the end of its log:
gantry-init:   | time=\"...\" level=info msg=\"dockerd: started again (a quoted log line)\"
gantry-init:   | gantry-init: error: dockerd: exited on its own (status 1)
gantry-init: dockerd: started again (pid 412, restart 1 of 3) [80.02s]
gantry-init: dockerd: answers on /var/run/docker.sock again [95.10s]
";

    #[test]
    fn an_exit_and_a_restart_are_read_and_quoted_log_lines_are_not() {
        let r = engine_restarts(CONSOLE);
        assert_eq!(
            r,
            EngineRestarts {
                restarts: 1,
                last_exit: Some("dockerd: exited on its own (status 137)".into()),
                gave_up: false
            }
        );
    }

    #[test]
    fn giving_up_is_read() {
        let text = format!(
            "{CONSOLE}gantry-init: error: dockerd: exited on its own (status 2); the end of its log:\n\
             gantry-init: error: dockerd: exited 4 times; not starting it again (restart Gantry)\n"
        );
        let r = engine_restarts(&text);
        assert!(r.gave_up);
        assert_eq!(r.last_exit.as_deref(), Some("dockerd: exited on its own (status 2)"));
    }

    #[test]
    fn a_quiet_console_reports_nothing() {
        assert_eq!(engine_restarts("gantry-init: engine ready\n"), EngineRestarts::default());
        assert_eq!(engine_restarts(""), EngineRestarts::default());
    }

    proptest! {
        /// Any text: no panic; the count is exactly the restart lines inserted among noise that
        /// cannot start with the init's prefix.
        #[test]
        fn restarts_counted_among_any_other_lines(noise in proptest::collection::vec("[a-z |:]{0,40}", 0..20), n in 0u32..5) {
            let mut text = String::new();
            for (i, l) in noise.iter().enumerate() {
                text.push_str(&format!("x{l}\n"));
                if (i as u32) < n {
                    text.push_str(&format!("gantry-init: dockerd: started again (pid {i}, restart {} of 3) [1.0s]\n", i + 1));
                }
            }
            let expected = n.min(u32::try_from(noise.len()).unwrap_or(u32::MAX));
            prop_assert_eq!(engine_restarts(&text).restarts, expected);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
            let _ = engine_restarts(&text);
        }
    }
}
