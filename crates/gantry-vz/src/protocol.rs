//! What gantry-vz reads on its input and prints on its output (the agent's side of the helper).

/// Printed once the virtual machine runs.
pub const STARTED: &str = "gantry-vz: started";
/// Printed when it has stopped (cleanly or not), the last line.
pub const STOPPED: &str = "gantry-vz: stopped";
/// Prefix of an error line.
pub const ERROR: &str = "gantry-vz: error: ";

/// A command on gantry-vz's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Ask the guest to power off (the ACPI-like stop request), then force it after the grace.
    Stop,
    /// Stop at once (the guest gets no chance to sync).
    Kill,
}

/// One input line as a command; the end of the input counts as [`Command::Stop`].
pub fn parse_command(line: Option<&str>) -> Result<Command, String> {
    match line.map(str::trim) {
        None | Some("stop") => Ok(Command::Stop),
        Some("kill") => Ok(Command::Kill),
        Some(other) => Err(format!("unknown command {other:?} (stop, kill)")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_the_end_of_input() {
        assert_eq!(parse_command(Some("stop\n")), Ok(Command::Stop));
        assert_eq!(parse_command(Some("kill")), Ok(Command::Kill));
        assert_eq!(parse_command(None), Ok(Command::Stop));
        assert!(parse_command(Some("reboot")).unwrap_err().contains("unknown command"));
    }
}
