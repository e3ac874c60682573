//! The Docker tutorials' advice that hadolint and BuildKit lack: copy dependency lists before
//! the code, have a `.dockerignore`, build in a separate stage, do not run as root (with
//! hadolint's DL3002 for an explicit root USER).

use super::{Analysis, Hit};
use crate::dockerfile::shell::Command;
use crate::dockerfile::words::{split_words, unquote};
use crate::dockerfile::{Args, Instruction, Keyword};
use crate::lint::{Dockerignore, TextEdit};

/// What a new `.dockerignore` lists: version control, local secrets, dependency and cache folders.
const DOCKERIGNORE: [&str; 9] = [
    "# Keep the build context small and local secrets out of the image.",
    ".git",
    ".env",
    "*.log",
    "**/node_modules",
    "**/__pycache__",
    "**/*.pyc",
    ".venv",
    ".DS_Store",
];

/// Packages and commands that mean "this stage compiles something".
const BUILD_PACKAGES: [&str; 14] = [
    "build-essential",
    "build-base",
    "gcc",
    "g++",
    "clang",
    "make",
    "cmake",
    "golang",
    "golang-go",
    "rustc",
    "cargo",
    "maven",
    "gradle",
    "default-jdk",
];

pub(super) fn check(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    if let Some(last) = a.final_stage() {
        root_user(a, last, hits);
        if a.stages.len() == 1 {
            multi_stage(a, last, hits);
        }
    }
    missing_dockerignore(a, hits);
    for stage in 0..a.stages.len() {
        dependencies_first(a, stage, hits);
    }
}

fn root_user(a: &Analysis<'_>, last: usize, hits: &mut Vec<Hit>) {
    let mut chain = vec![last];
    while let Some(parent) = chain.last().and_then(|s| a.parent[*s]) {
        chain.push(parent);
    }
    let last_user =
        chain.iter().find_map(|s| a.stage_body(*s).filter(|(_, i)| i.keyword == Keyword::User).last().map(|(_, i)| i));
    match last_user {
        Some(user) => {
            let name = unquote(user.rest.trim(), a.escape);
            let name = name.split(':').next().unwrap_or_default();
            if name == "root" || name == "0" {
                hits.push(Hit::new("DL3002", user));
            }
        }
        None => {
            let root_stage = *chain.last().unwrap_or(&last);
            let base = a.resolved_base(root_stage).text.to_ascii_lowercase();
            if !base.contains("nonroot") && !base.contains("rootless") && base != "scratch" {
                let from = &a.df.instructions[a.stages[last].from];
                hits.push(Hit::new("RunsAsRoot", from).also(&[]));
            }
        }
    }
}

fn multi_stage(a: &Analysis<'_>, stage: usize, hits: &mut Vec<Hit>) {
    let mut tools: Vec<String> = Vec::new();
    let mut first: Option<&Instruction> = None;
    let base = a.resolved_base(stage).text.to_ascii_lowercase();
    let base_name = base.rsplit('/').next().unwrap_or(&base).split([':', '@']).next().unwrap_or_default().to_string();
    for (_, run) in a.stage_body(stage).filter(|(_, i)| i.keyword == Keyword::Run) {
        for command in a.commands(run) {
            let found = build_tools(&command, &base_name);
            if !found.is_empty() && first.is_none() {
                first = Some(run);
            }
            for tool in found {
                if !tools.contains(&tool) {
                    tools.push(tool);
                }
            }
        }
    }
    if let Some(run) = first {
        hits.push(Hit::new("MultiStageBuild", run).arg("tools", tools.join(", ")));
    }
}

/// Build tools a command installs or runs.
fn build_tools(command: &Command, base_name: &str) -> Vec<String> {
    let name = command.name();
    let sub = command.subcommand().unwrap_or_default();
    let installs = (name == "apt-get" && sub == "install") || (name == "apk" && sub == "add");
    if installs {
        return command
            .operands(&["-o", "-t", "--virtual"])
            .into_iter()
            .map(|p| p.split('=').next().unwrap_or(p))
            .filter(|p| BUILD_PACKAGES.contains(p) || (p.starts_with("openjdk-") && p.ends_with("-jdk")))
            .map(str::to_string)
            .collect();
    }
    let compiles = matches!(
        (name, sub),
        ("go", "build")
            | ("cargo", "build")
            | ("mvn", "package" | "install")
            | ("gradle", "build")
            | ("dotnet", "publish")
    ) || (matches!(name, "npm" | "yarn" | "pnpm") && command.program().iter().any(|w| w == "build"))
        || matches!(name, "gcc" | "g++" | "make" | "cmake");
    if compiles {
        let tool = match base_name {
            "golang" | "rust" | "maven" | "gradle" | "node" => format!("{base_name} ({name} {sub})"),
            _ => format!("{name} {sub}").trim().to_string(),
        };
        return vec![tool];
    }
    Vec::new()
}

/// COPY or ADD of the whole context (`.`), outside `--from`.
fn copies_context(a: &Analysis<'_>, instruction: &Instruction) -> Option<String> {
    if !matches!(instruction.keyword, Keyword::Copy | Keyword::Add) || instruction.flag("from").is_some() {
        return None;
    }
    let parts: Vec<String> = match &instruction.args {
        Args::Json(parts) => parts.clone(),
        Args::Shell(text) => split_words(text, a.escape).iter().map(|w| unquote(w, a.escape)).collect(),
    };
    let (dest, sources) = parts.split_last()?;
    sources.iter().any(|s| matches!(s.as_str(), "." | "./" | "*" | "./*")).then(|| dest.clone())
}

fn missing_dockerignore(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    if a.context.dockerignore != Dockerignore::Missing {
        return;
    }
    let Some(copy) = a.df.instructions.iter().find(|i| copies_context(a, i).is_some()) else { return };
    let edit = TextEdit {
        line: 1,
        delete: 0,
        insert: DOCKERIGNORE.iter().map(|l| (*l).to_string()).collect(),
        file: Some(".dockerignore".into()),
    };
    hits.push(Hit::new("MissingDockerignore", copy).fix(Some(vec![edit])));
}

/// A dependency install and the files it reads.
struct DependencyInstall {
    manifests: Vec<String>,
}

fn dependency_install(command: &Command, context_files: Option<&[String]>) -> Option<DependencyInstall> {
    let name = command.name();
    let sub = command.subcommand().unwrap_or_default();
    let exists = |file: &str| context_files.is_none_or(|files| files.iter().any(|f| f == file));
    let pick = |required: &str, optional: &[&str]| {
        let mut manifests = vec![required.to_string()];
        manifests.extend(optional.iter().filter(|f| context_files.is_some() && exists(f)).map(|f| (*f).to_string()));
        manifests
    };
    let manifests = match (name, sub) {
        (pip, "install") if pip.starts_with("pip") => {
            let program = command.program();
            let file = program.windows(2).find(|w| w[0] == "-r" || w[0] == "--requirement").map(|w| w[1].clone())?;
            if file.contains('/') && !file.starts_with("./") {
                return None;
            }
            vec![file.trim_start_matches("./").to_string()]
        }
        ("npm", "ci") => pick("package.json", &["package-lock.json"]),
        ("npm", "install" | "i") if command.operands(&[]).is_empty() => {
            if context_files.is_none() {
                vec!["package*.json".to_string()]
            } else {
                pick("package.json", &["package-lock.json"])
            }
        }
        ("yarn", "install") | ("yarn", "") => pick("package.json", &["yarn.lock"]),
        ("pnpm", "install") => pick("package.json", &["pnpm-lock.yaml"]),
        ("go", "mod") if command.operands(&[]).first() == Some(&"download") => pick("go.mod", &["go.sum"]),
        ("bundle", "install") => pick("Gemfile", &["Gemfile.lock"]),
        ("composer", "install") => pick("composer.json", &["composer.lock"]),
        ("poetry", "install") => pick("pyproject.toml", &["poetry.lock"]),
        ("pipenv", "install") => pick("Pipfile", &["Pipfile.lock"]),
        ("uv", "sync") => pick("pyproject.toml", &["uv.lock"]),
        _ => return None,
    };
    Some(DependencyInstall { manifests })
}

fn dependencies_first(a: &Analysis<'_>, stage: usize, hits: &mut Vec<Hit>) {
    let body: Vec<(usize, &Instruction)> = a.stage_body(stage).collect();
    let Some(copy_at) = body.iter().position(|(_, i)| copies_context(a, i).is_some()) else { return };
    let (_, copy) = body[copy_at];
    let dest = copies_context(a, copy).unwrap_or_default();
    let copied_before: Vec<String> = body[..copy_at]
        .iter()
        .filter(|(_, i)| matches!(i.keyword, Keyword::Copy | Keyword::Add))
        .flat_map(|(_, i)| split_words(&i.rest, a.escape).into_iter().map(|w| unquote(&w, a.escape)))
        .collect();
    let files = a.context.context_files.as_deref();
    for (offset, (_, instruction)) in body[copy_at + 1..].iter().enumerate() {
        if instruction.keyword != Keyword::Run {
            continue;
        }
        let commands = a.commands(instruction);
        let installs: Vec<DependencyInstall> = commands.iter().filter_map(|c| dependency_install(c, files)).collect();
        let Some(install) = installs.first() else { continue };
        let already = install.manifests.iter().any(|m| copied_before.iter().any(|c| c.trim_start_matches("./") == m));
        if already {
            return;
        }
        let manifests = install.manifests.join(" ");
        let only_installs = commands.iter().all(|c| dependency_install(c, files).is_some() || is_pip_self_upgrade(c));
        let between = &body[copy_at + 1..copy_at + 1 + offset];
        let workdirs: Vec<&Instruction> =
            between.iter().map(|(_, i)| *i).filter(|i| i.keyword == Keyword::Workdir).collect();
        let in_between_is_harmless = between.iter().all(|(_, i)| {
            matches!(i.keyword, Keyword::Env | Keyword::Arg | Keyword::Label | Keyword::Expose | Keyword::Workdir)
        });
        // A WORKDIR between the copy and the install moves along, so the install runs where it
        // ran before; then the dependency list goes to the copy's absolute destination.
        let target = if !workdirs.is_empty() {
            dest.starts_with('/').then(|| format!("{}/", dest.trim_end_matches('/')))
        } else if dest.ends_with('/') || (install.manifests.len() == 1 && dest != ".") {
            Some(dest.clone())
        } else {
            Some(format!("{}/", dest.trim_end_matches('/')))
        };
        let movable = only_installs && in_between_is_harmless && instruction.heredocs.is_empty();
        let fix = target.filter(|_| movable).map(|target| {
            let copy_keyword = if copy.is_upper() { "COPY" } else { "copy" };
            let mut moved: Vec<String> =
                workdirs.iter().flat_map(|w| (w.line..=w.end_line).map(|n| a.df.line(n).to_string())).collect();
            moved.push(format!("{copy_keyword} {manifests} {target}"));
            moved.extend((instruction.line..=instruction.end_line).map(|n| a.df.line(n).to_string()));
            vec![
                TextEdit::insert_before(copy.line, moved),
                TextEdit::delete_lines(instruction.line, instruction.end_line),
            ]
        });
        hits.push(Hit::new("CopyDependenciesFirst", instruction).arg("manifests", manifests).fix(fix));
        return;
    }
}

fn is_pip_self_upgrade(command: &Command) -> bool {
    command.name().starts_with("pip") && command.operands(&[]) == ["pip"]
}
