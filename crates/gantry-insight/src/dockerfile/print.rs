//! Printing a parsed Dockerfile back as canonical text (one line per instruction, upper-case
//! keywords, heredoc bodies after their instruction). Comments and layout are not kept: the
//! lossless form is [`Dockerfile::lines`].

use super::{Dockerfile, Instruction};

impl Instruction {
    /// The instruction as one canonical line plus its heredoc bodies, or `None` when no text
    /// parses back to the same instruction (its text ends with the escape character, or a
    /// heredoc line ends with a carriage return).
    pub fn to_canonical(&self, escape: char) -> Option<String> {
        // A text ending with the escape character would read as a continuation; a heredoc line
        // ending with `\r` would lose it to the line-end handling.
        if self.rest.ends_with(escape) || self.heredocs.iter().any(|h| h.body.contains("\r\n")) {
            return None;
        }
        let mut out = self.keyword.as_str().to_string();
        for flag in &self.flags {
            out.push_str(" --");
            out.push_str(&flag.name);
            if let Some(value) = &flag.value {
                out.push('=');
                out.push_str(value);
            }
        }
        if !self.rest.is_empty() {
            out.push(' ');
            out.push_str(&self.rest);
        }
        out.push('\n');
        for heredoc in &self.heredocs {
            out.push_str(&heredoc.body);
            out.push_str(&heredoc.delimiter);
            out.push('\n');
        }
        Some(out)
    }

    /// True when two instructions mean the same (ignoring where they are and how the keyword
    /// is cased).
    pub fn same_meaning(&self, other: &Instruction) -> bool {
        let heredocs_match = self.heredocs.len() == other.heredocs.len()
            && self.heredocs.iter().zip(&other.heredocs).all(|(a, b)| {
                a.delimiter == b.delimiter && a.strip_tabs == b.strip_tabs && a.quoted == b.quoted && a.body == b.body
            });
        self.keyword == other.keyword
            && self.flags == other.flags
            && self.rest == other.rest
            && self.args == other.args
            && heredocs_match
    }
}

impl Dockerfile {
    /// The whole file in canonical form, or `None` if an instruction cannot be printed (see
    /// [`Instruction::to_canonical`]).
    pub fn to_canonical(&self) -> Option<String> {
        let escape = self.directives.escape;
        let mut out = String::new();
        if let Some(syntax) = &self.directives.syntax {
            out.push_str(&format!("# syntax={syntax}\n"));
        }
        if escape != super::DEFAULT_ESCAPE {
            out.push_str(&format!("# escape={escape}\n"));
        }
        if let Some(check) = &self.directives.check {
            out.push_str(&format!("# check={check}\n"));
        }
        for instruction in &self.instructions {
            out.push_str(&instruction.to_canonical(escape)?);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::dockerfile::parse;

    #[test]
    fn canonical_text_parses_back_to_the_same_instructions() {
        let text = "# escape=`\nfrom busybox as b\nrun --mount=type=cache,target=/c echo `\n  hi\nCOPY <<-EOF /x\n\tbody\n\tEOF\n";
        let df = parse(text);
        let printed = df.to_canonical().expect("printable");
        assert_eq!(
            printed,
            "# escape=`\nFROM busybox as b\nRUN --mount=type=cache,target=/c echo   hi\nCOPY <<-EOF /x\nbody\nEOF\n"
        );
        let again = parse(&printed);
        assert_eq!(again.instructions.len(), df.instructions.len());
        assert!(again.instructions.iter().zip(&df.instructions).all(|(a, b)| a.same_meaning(b)));
    }
}
