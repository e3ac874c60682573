//! The UI's TypeScript side of the API, generated from Rust (feature `ts`): a type file per API
//! type in `ui/src/lib/bindings/` (ts-rs) and `ui/src/lib/commands.ts`, one typed function per
//! command of the [command table](crate::command_table). Written by
//! `cargo test -p gantry-core --features ts --lib export_bindings` (`npm run bindings` in ui/);
//! the test command checks that the committed files are current.

use std::collections::BTreeSet;
use std::path::Path;

use ts_rs::{Config, Dependency, TS, TypeVisitor};

/// One command as TypeScript sees it.
struct Command {
    name: &'static str,
    doc: String,
    /// `(name, TypeScript type)` of each argument.
    args: Vec<(&'static str, String)>,
    /// The result type, or the item type of a stream.
    out: String,
    stream: bool,
}

/// What the generated files need: the commands and the types to import and export.
#[derive(Default)]
struct Surface {
    commands: Vec<Command>,
    /// TypeScript names of the binding types `commands.ts` imports.
    imports: BTreeSet<String>,
    /// Errors of writing type files.
    errors: Vec<String>,
}

impl Surface {
    /// Notes type `T`: its binding file (and those of its dependencies) is written, and
    /// `commands.ts` imports it (or, for `Vec<T>` and the like, the types it wraps).
    fn use_type<T: TS + 'static + ?Sized>(&mut self, cfg: &Config) -> String {
        match Dependency::from_ty::<T>(cfg) {
            Some(dep) => {
                self.imports.insert(dep.ts_name);
                self.export::<T>(cfg);
            }
            None => {
                struct Wrapped<'a>(&'a mut Surface, &'a Config);
                impl TypeVisitor for Wrapped<'_> {
                    fn visit<U: TS + 'static + ?Sized>(&mut self) {
                        if let Some(dep) = Dependency::from_ty::<U>(self.1) {
                            self.0.imports.insert(dep.ts_name);
                            self.0.export::<U>(self.1);
                        }
                    }
                }
                T::visit_generics(&mut Wrapped(self, cfg));
            }
        }
        T::name(cfg)
    }

    fn export<T: TS + 'static + ?Sized>(&mut self, cfg: &Config) {
        if let Err(e) = T::export_all(cfg) {
            self.errors.push(format!("{}: {e}", T::name(cfg)));
        }
    }
}

macro_rules! collect_commands {
    ($( $(#[doc = $doc:literal])* $kind:ident $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $out:ty ; )*) => {
        fn collect(cfg: &Config) -> Surface {
            let mut surface = Surface::default();
            $(
                let args = vec![$((stringify!($arg), surface.use_type::<$ty>(cfg))),*];
                let out = surface.use_type::<$out>(cfg);
                let doc = [$($doc),*].iter().map(|l: &&str| l.trim()).collect::<Vec<_>>().join(" ");
                surface.commands.push(Command {
                    name: stringify!($name),
                    doc,
                    args,
                    out,
                    stream: stringify!($kind) == "stream",
                });
            )*
            surface
        }
    };
}

crate::command_table!(collect_commands);

/// `container_list` → `containerList`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn commands_ts(surface: &Surface) -> String {
    let mut out = String::from(
        "// Generated from crates/gantry-core/src/api/command_table.rs by `npm run bindings`: do not edit.\n\
         // One typed function per command the webview may call; nothing else calls the IPC.\n",
    );
    out.push_str("import { call, stream, type StreamCallbacks, type StreamHandle } from './ipc';\n");
    for name in &surface.imports {
        out.push_str(&format!("import type {{ {name} }} from './bindings/{name}';\n"));
    }
    out.push_str("\n/** Every command's name. */\nexport type CommandName =\n");
    let names: Vec<String> = surface.commands.iter().map(|c| format!("  | '{}'", c.name)).collect();
    out.push_str(&names.join("\n"));
    out.push_str(";\n");
    for c in &surface.commands {
        out.push('\n');
        if !c.doc.is_empty() {
            out.push_str(&format!("/** {} */\n", c.doc));
        }
        let mut params: Vec<String> = c.args.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        let keys = c.args.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        let args = if keys.is_empty() { "{}".to_string() } else { format!("{{ {keys} }}") };
        if c.stream {
            params.push(format!("on: StreamCallbacks<{}>", c.out));
            out.push_str(&format!(
                "export function {}({}): Promise<StreamHandle> {{\n  return stream<{}>('{}', {args}, on);\n}}\n",
                camel(c.name),
                params.join(", "),
                c.out,
                c.name
            ));
        } else {
            out.push_str(&format!(
                "export function {}({}): Promise<{}> {{\n  return call<{}>('{}', {args});\n}}\n",
                camel(c.name),
                params.join(", "),
                c.out,
                c.out,
                c.name
            ));
        }
    }
    out
}

/// Writes the binding type files and `commands.ts` into `ui_lib` (`ui/src/lib`); type files of
/// types that are gone are deleted.
pub fn export(ui_lib: &Path) -> Result<(), String> {
    let bindings = ui_lib.join("bindings");
    if let Ok(old) = std::fs::read_dir(&bindings) {
        for file in old.flatten().filter(|f| f.path().extension().is_some_and(|e| e == "ts")) {
            std::fs::remove_file(file.path()).map_err(|e| format!("{}: {e}", file.path().display()))?;
        }
    }
    let cfg = Config::new().with_large_int("number").with_out_dir(bindings);
    let mut surface = collect(&cfg);
    // The stream envelope and the error shape, used by the IPC layer itself.
    surface.export::<super::StreamMsg<super::LogLine>>(&cfg);
    surface.export::<super::ApiError>(&cfg);
    if !surface.errors.is_empty() {
        return Err(surface.errors.join("; "));
    }
    std::fs::write(ui_lib.join("commands.ts"), commands_ts(&surface)).map_err(|e| format!("commands.ts: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the UI's TypeScript side of the API (see the module documentation); the test
    /// command then checks that nothing changed.
    #[test]
    fn export_bindings() -> Result<(), String> {
        export(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib"))
    }

    #[test]
    fn names_become_camel_case() {
        assert_eq!(camel("container_list"), "containerList");
        assert_eq!(camel("system_prune_preview"), "systemPrunePreview");
    }
}
