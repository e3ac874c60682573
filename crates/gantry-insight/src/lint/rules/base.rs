//! FROM lines: base image tags (DL3006, DL3007), build arguments in FROM, the platform flag,
//! and stage names (casing, duplicates, reserved words, `AS` casing).

use super::{Analysis, Hit};
use crate::dockerfile::Instruction;
use crate::lint::TextEdit;
use crate::lint::analysis::{PLATFORM_ARGS, find_word, tag_of};

const RESERVED_STAGE_NAMES: [&str; 2] = ["scratch", "context"];

pub(super) fn check(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    let mut earlier_names: Vec<String> = Vec::new();
    for (index, stage) in a.stages.iter().enumerate() {
        let from = &a.df.instructions[stage.from];
        if let (Some(name), Some(as_written)) = (&stage.name, &stage.as_written) {
            stage_name(a, index, from, name, as_written, &earlier_names, hits);
            earlier_names.push(name.to_ascii_lowercase());
        }
        if stage.base.is_empty() {
            continue;
        }
        let expanded = a.resolved_base(index);
        let declared: Vec<&str> = a.global_args.iter().map(|(n, _)| n.as_str()).collect();
        for name in &expanded.used {
            if !declared.contains(&name.as_str()) && !PLATFORM_ARGS.contains(&name.as_str()) {
                hits.push(Hit::new("UndefinedArgInFrom", from).arg("name", name));
            }
        }
        let uses_unknown =
            expanded.used.iter().any(|n| PLATFORM_ARGS.contains(&n.as_str()) || !declared.contains(&n.as_str()));
        let image = expanded.text.clone();
        if !expanded.used.is_empty() && !uses_unknown && gantry_engine::images::validate_reference(&image).is_err() {
            hits.push(Hit::new("InvalidDefaultArgInFrom", from).arg("image", &image));
        }
        let names_a_stage = a.parent[index].is_some();
        if !uses_unknown
            && expanded.missing.is_empty()
            && !names_a_stage
            && !image.eq_ignore_ascii_case("scratch")
            && !image.is_empty()
        {
            match tag_of(&image) {
                (_, true) => {}
                (None, false) => hits.push(Hit::new("DL3006", from).arg("image", &image)),
                (Some("latest"), false) => hits.push(Hit::new("DL3007", from).arg("image", &image)),
                _ => {}
            }
        }
        if let Some(platform) = from.flag("platform") {
            if platform == "$TARGETPLATFORM" || platform == "${TARGETPLATFORM}" {
                let fix = a.replace_word(from, &format!("--platform={platform}"), "").map(|edit| {
                    let cleaned = edit.insert[0].replacen("  ", " ", 1);
                    TextEdit::replace_line(edit.line, cleaned)
                });
                hits.push(Hit::new("RedundantTargetPlatform", from).fix(fix.map(|e| vec![e])));
            } else if !platform.contains('$') {
                hits.push(Hit::new("FromPlatformFlagConstDisallowed", from).arg("platform", platform));
            }
        }
    }
}

fn stage_name(
    a: &Analysis<'_>,
    index: usize,
    from: &Instruction,
    name: &str,
    as_written: &str,
    earlier_names: &[String],
    hits: &mut Vec<Hit>,
) {
    let from_upper = from.written == from.written.to_ascii_uppercase();
    let as_upper = as_written == as_written.to_ascii_uppercase();
    let as_lower = as_written == as_written.to_ascii_lowercase();
    if (from_upper && !as_upper) || (!from_upper && !as_lower) {
        let fixed = if from_upper { "AS" } else { "as" };
        let fix = a.replace_word(from, as_written, fixed);
        hits.push(
            Hit::new("FromAsCasing", from)
                .arg("as", as_written)
                .arg("from", &from.written)
                .arg("fixed", fixed)
                .fix(fix.map(|e| vec![e])),
        );
    }
    let lower = name.to_ascii_lowercase();
    if name != lower {
        hits.push(
            Hit::new("StageNameCasing", from)
                .arg("name", name)
                .arg("lower", &lower)
                .fix(rename_stage(a, index, name, &lower)),
        );
    }
    if RESERVED_STAGE_NAMES.contains(&lower.as_str()) {
        hits.push(Hit::new("ReservedStageName", from).arg("name", name));
    }
    if earlier_names.contains(&lower) {
        hits.push(Hit::new("DL3024", from).arg("name", name));
    }
}

/// Edits renaming stage `index` from `old` to `new` in its `AS` and in every later reference
/// (`FROM old`, `COPY --from=old`, `RUN --mount=…,from=old`).
fn rename_stage(a: &Analysis<'_>, index: usize, old: &str, new: &str) -> Option<Vec<TextEdit>> {
    let stage = &a.stages[index];
    let from = &a.df.instructions[stage.from];
    let mut edits = vec![a.replace_word(from, old, new)?];
    for instruction in &a.df.instructions[stage.from + 1..] {
        let line = a.df.line(instruction.line);
        let renamed = rename_references(line, old, new);
        if renamed != line {
            edits.push(TextEdit::replace_line(instruction.line, renamed));
        }
    }
    Some(edits)
}

fn rename_references(line: &str, old: &str, new: &str) -> String {
    let mut out = line.replace(&format!("--from={old}"), &format!("--from={new}"));
    out = out.replace(&format!(",from={old}"), &format!(",from={new}"));
    let trimmed = out.trim_start();
    if trimmed.len() > 4 && trimmed[..4].eq_ignore_ascii_case("from") {
        let offset = out.len() - trimmed.len();
        // `FROM old` (a stage built on this one): only the image word, not an `AS` name.
        let image_at = trimmed[4..]
            .split_whitespace()
            .find(|w| !w.starts_with("--"))
            .and_then(|w| (w == old).then(|| find_word(&out, old, offset + 4)))
            .flatten();
        if let Some(at) = image_at {
            out = format!("{}{new}{}", &out[..at], &out[at + old.len()..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::rename_references;

    #[test]
    fn renames_only_references() {
        assert_eq!(rename_references("COPY --from=Build /a /b", "Build", "build"), "COPY --from=build /a /b");
        assert_eq!(rename_references("FROM Build AS final", "Build", "build"), "FROM build AS final");
        assert_eq!(rename_references("FROM debian AS Build", "Build", "build"), "FROM debian AS Build");
        assert_eq!(
            rename_references("RUN --mount=type=bind,from=Build,target=/x ls", "Build", "build"),
            "RUN --mount=type=bind,from=build,target=/x ls"
        );
    }
}
