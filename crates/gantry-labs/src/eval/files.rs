//! Checks on files in the learner's work folder.

use std::path::Path;

use super::CheckResult;
use crate::check::{DockerfileLint, FileContains, FileExists};
use crate::size::Size;

/// Most bytes of a file read.
const MAX_FILE: u64 = 1024 * 1024;

/// Reads up to [`MAX_FILE`] bytes of `file` in `work_dir`; `None` when it does not exist.
pub(crate) fn read(work_dir: &Path, file: &str) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let path = work_dir.join(file);
    match std::fs::File::open(&path) {
        Ok(f) => {
            let mut text = String::new();
            let mut bytes = Vec::new();
            f.take(MAX_FILE).read_to_end(&mut bytes)?;
            text.push_str(&String::from_utf8_lossy(&bytes));
            Ok(Some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn contains(check: &FileContains, work_dir: &Path) -> CheckResult {
    match read(work_dir, &check.file) {
        Ok(Some(text)) => CheckResult::given(
            text.contains(&check.text),
            format!("`{}` does not contain `{}`", check.file, check.text),
            format!("в `{}` нет текста `{}`", check.file, check.text),
        ),
        Ok(None) => CheckResult::fail(
            format!("there is no file `{}` in the lab folder", check.file),
            format!("в папке лабораторной нет файла `{}`", check.file),
        ),
        Err(e) => CheckResult::fail(
            format!("cannot read `{}`: {e}", check.file),
            format!("не удаётся прочитать `{}`: {e}", check.file),
        ),
    }
}

pub fn exists(check: &FileExists, work_dir: &Path) -> CheckResult {
    match std::fs::metadata(work_dir.join(&check.file)) {
        Ok(meta) if meta.is_file() => match check.min_size {
            Some(min) if meta.len() < min.0 => CheckResult::fail(
                format!("`{}` is only {}, less than {min}", check.file, Size(meta.len())),
                format!("`{}` занимает всего {}, меньше {min}", check.file, Size(meta.len())),
            ),
            _ => CheckResult::pass(),
        },
        Ok(_) => CheckResult::fail(format!("`{}` is not a file", check.file), format!("`{}` — не файл", check.file)),
        Err(_) => CheckResult::fail(
            format!("there is no file `{}` in the lab folder", check.file),
            format!("в папке лабораторной нет файла `{}`", check.file),
        ),
    }
}

/// What the linter needs to know about the build context: its `.dockerignore` and top-level names.
fn lint_context(work_dir: &Path, lang: gantry_insight::Lang) -> gantry_insight::LintContext {
    let mut context = gantry_insight::LintContext::new(lang);
    context.dockerignore = match read(work_dir, ".dockerignore") {
        Ok(Some(text)) => gantry_insight::lint::Dockerignore::Present(text),
        Ok(None) => gantry_insight::lint::Dockerignore::Missing,
        Err(_) => gantry_insight::lint::Dockerignore::Unknown,
    };
    context.context_files = std::fs::read_dir(work_dir)
        .ok()
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect());
    context
}

pub fn dockerfile_lint(check: &DockerfileLint, work_dir: &Path) -> CheckResult {
    let file = check.file.as_deref().unwrap_or("Dockerfile");
    let text = match read(work_dir, file) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return CheckResult::fail(
                format!("there is no file `{file}` in the lab folder"),
                format!("в папке лабораторной нет файла `{file}`"),
            );
        }
        Err(e) => {
            return CheckResult::fail(
                format!("cannot read `{file}`: {e}"),
                format!("не удаётся прочитать `{file}`: {e}"),
            );
        }
    };
    let describe = |lang: gantry_insight::Lang| {
        gantry_insight::lint(&text, &lint_context(work_dir, lang))
            .into_iter()
            .filter(|f| check.rules.iter().any(|r| f.is(r)))
            .map(|f| format!("line {}: {} ({})", f.line, f.message, f.rule))
            .collect::<Vec<_>>()
    };
    let en = describe(gantry_insight::Lang::En);
    if en.is_empty() {
        return CheckResult::pass();
    }
    let ru =
        describe(gantry_insight::Lang::Ru).into_iter().map(|l| l.replacen("line", "строка", 1)).collect::<Vec<_>>();
    CheckResult::fail(en.join("; "), ru.join("; "))
}
