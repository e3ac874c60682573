//! What the parser found (unknown instructions, unclosed heredocs, missing arguments, empty
//! continuation lines) and instruction casing.

use super::{Analysis, Hit};
use crate::dockerfile::ParseProblem;
use crate::lint::TextEdit;

pub(super) fn check(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    for problem in &a.df.problems {
        let hit = match problem {
            ParseProblem::UnknownInstruction { line, word } => {
                Hit::at_line("UnknownInstruction", *line).arg("word", word)
            }
            ParseProblem::UnterminatedHeredoc { line, delimiter } => {
                Hit::at_line("UnterminatedHeredoc", *line).arg("delimiter", delimiter)
            }
            ParseProblem::MissingArguments { line, keyword } => {
                Hit::at_line("MissingArguments", *line).arg("keyword", keyword)
            }
            ParseProblem::EmptyContinuation { line } => {
                Hit::at_line("NoEmptyContinuation", *line).fix(Some(vec![TextEdit::delete_lines(*line, *line)]))
            }
        };
        hits.push(hit);
    }
    consistent_casing(a, hits);
}

/// BuildKit's ConsistentInstructionCasing: instructions follow the casing most of them use.
fn consistent_casing(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    let upper = a.df.instructions.iter().filter(|i| i.written == i.written.to_ascii_uppercase()).count();
    let lower = a.df.instructions.iter().filter(|i| i.written == i.written.to_ascii_lowercase()).count();
    let want_upper = upper >= lower;
    for instruction in &a.df.instructions {
        let expected = if want_upper {
            instruction.keyword.as_str().to_string()
        } else {
            instruction.keyword.as_str().to_ascii_lowercase()
        };
        if instruction.written == expected {
            continue;
        }
        let fix = a.replace_word(instruction, &instruction.written, &expected);
        hits.push(
            Hit::new("ConsistentInstructionCasing", instruction)
                .arg("written", &instruction.written)
                .arg("expected", expected)
                .fix(fix.map(|e| vec![e])),
        );
    }
}
