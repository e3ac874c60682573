//! Enough of POSIX shell to lint RUN commands: the script is cut into simple commands at
//! `&&`, `||`, `;`, `|`, `&` and newlines (outside quotes), each a list of unquoted words; the
//! command's program is found after variable assignments and wrappers such as `sudo` or `env`.
//! It is a linter's view, not an interpreter: loops and functions read as plain commands.

/// One simple command of a shell script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The words, unquoted.
    pub words: Vec<String>,
    /// True when this command's output is piped (`|`) into the next one.
    pub piped: bool,
}

/// Programs that run the command after them (`sudo apt-get …`).
const WRAPPERS: [&str; 7] = ["sudo", "env", "nice", "time", "exec", "command", "nohup"];

impl Command {
    /// The program and its arguments: the words after `VAR=value` assignments and wrappers.
    pub fn program(&self) -> &[String] {
        let mut start = 0;
        while let Some(word) = self.words.get(start) {
            let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            let is_wrapper = WRAPPERS.contains(&word.as_str())
                || (start > 0 && WRAPPERS.contains(&self.words[start - 1].as_str()) && word.starts_with('-'));
            if is_assignment || is_wrapper {
                start += 1;
            } else {
                break;
            }
        }
        &self.words[start..]
    }

    /// The program's name without its directory (`/usr/bin/apt-get` → `apt-get`).
    pub fn name(&self) -> &str {
        self.program().first().map_or("", |p| p.rsplit('/').next().unwrap_or(p))
    }

    /// The first argument that is not an option (`apt-get -y install x` → `install`).
    pub fn subcommand(&self) -> Option<&str> {
        self.program().iter().skip(1).find(|w| !w.starts_with('-')).map(String::as_str)
    }

    /// True when any argument is one of `options`.
    pub fn has_option(&self, options: &[&str]) -> bool {
        self.program().iter().skip(1).any(|w| options.contains(&w.as_str()))
    }

    /// Arguments after the subcommand that are not options, skipping the values of options in
    /// `with_value` (e.g. `-o Dpkg::Options=x`).
    pub fn operands(&self, with_value: &[&str]) -> Vec<&str> {
        let program = self.program();
        let mut out = Vec::new();
        let mut seen_subcommand = false;
        let mut skip_next = false;
        for word in program.iter().skip(1) {
            if skip_next {
                skip_next = false;
                continue;
            }
            if word.starts_with('-') {
                skip_next = with_value.contains(&word.as_str());
                continue;
            }
            if !seen_subcommand {
                seen_subcommand = true;
                continue;
            }
            out.push(word.as_str());
        }
        out
    }

    /// True for `set -o pipefail` (also `set -eo pipefail`, `set -euxo pipefail`).
    pub fn sets_pipefail(&self) -> bool {
        let program = self.program();
        program.first().is_some_and(|p| p == "set")
            && program.windows(2).any(|w| w[0].starts_with('-') && w[0].ends_with('o') && w[1] == "pipefail")
    }
}

/// Splits a shell script into simple commands.
pub fn commands(script: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let finish = |words: &mut Vec<String>, piped: bool, commands: &mut Vec<Command>| {
        if !words.is_empty() {
            commands.push(Command { words: std::mem::take(words), piped });
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                if !matches!(next, '"' | '\\' | '$' | '`') {
                                    word.push('\\');
                                }
                                word.push(next);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                if let Some(next) = chars.next()
                    && next != '\n'
                {
                    in_word = true;
                    word.push(next);
                }
            }
            '#' if !in_word => {
                for q in chars.by_ref() {
                    if q == '\n' {
                        break;
                    }
                }
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                finish(&mut words, false, &mut commands);
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\n' | ';' | '&' | '|' | '(' | ')' | '{' | '}' if !(matches!(c, '{' | '}') && in_word) => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let mut piped = false;
                if c == '|' {
                    if chars.peek() == Some(&'|') {
                        chars.next();
                    } else {
                        piped = true;
                    }
                } else if c == '&' && chars.peek() == Some(&'&') {
                    chars.next();
                }
                finish(&mut words, piped, &mut commands);
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    finish(&mut words, false, &mut commands);
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands_and_finds_programs() {
        let cmds = commands(
            "DEBIAN_FRONTEND=noninteractive sudo -E apt-get install -y 'curl' \"wget\" && rm -rf /x || true; a | b # c && d\nnext",
        );
        let names: Vec<&str> = cmds.iter().map(Command::name).collect();
        assert_eq!(names, vec!["apt-get", "rm", "true", "a", "b", "next"]);
        assert_eq!(cmds[0].subcommand(), Some("install"));
        assert_eq!(cmds[0].operands(&[]), vec!["curl", "wget"]);
        assert!(cmds[3].piped && !cmds[4].piped);
        assert!(commands("set -euxo pipefail && a | b")[0].sets_pipefail());
        assert!(!commands("set -e")[0].sets_pipefail());
    }

    #[test]
    fn braces_in_words_stay() {
        let cmds = commands("echo ${A} {x}");
        assert_eq!(cmds[0].words, vec!["echo", "${A}"]);
    }
}
