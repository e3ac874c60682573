//! What the VM can reach of this computer: the shared folders (each optionally read-only), the
//! folders that can never be shared, and the mount policy the engine-socket proxy applies to
//! every container create (like Docker Desktop's "Mounts denied").
//!
//! The policy ([`MountPolicy::check_body`]) reads the request's JSON the way dockerd's Go decoder
//! does (keys matched case-insensitively, every duplicate key counted, trailing bytes ignored,
//! invalid UTF-8 replaced), and refuses a bind whose source
//! - lies outside every shared folder ("not shared": the guest would show an empty directory),
//! - lies inside Gantry's own directory (the VM's disk and TLS keys),
//! - writes to a read-only share, or
//! - is a non-recursive bind of a folder above Gantry's directory (it would skip the guest's cover).
//!
//! Sources are checked lexically (`.`/`..` resolved) and, when they exist on this computer, also
//! after resolving symlinks (the guest follows the same links inside the share).

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A host folder shared into the guest at the same path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SharedFolder {
    pub path: PathBuf,
    /// Containers may read but never change it (enforced by QEMU on this computer's side).
    #[serde(default)]
    pub read_only: bool,
}

impl SharedFolder {
    /// A writable share of `path`.
    pub fn writable(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), read_only: false }
    }
}

/// `settings.json` may name a share as a plain path (older files) or as `{path, read_only}`.
impl<'de> Deserialize<'de> for SharedFolder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Spec {
            Path(PathBuf),
            Full {
                path: PathBuf,
                #[serde(default)]
                read_only: bool,
            },
        }
        Ok(match Spec::deserialize(d)? {
            Spec::Path(path) => Self::writable(path),
            Spec::Full { path, read_only } => Self { path, read_only },
        })
    }
}

/// Folders never shared: the system's own (a share of `/etc` would let containers read this
/// computer's configuration) and the roots above everything.
const NEVER_INSIDE: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/System",
    "/private/etc",
    "/var/lib/docker",
];
const NEVER_EXACTLY: &[&str] = &["/", "/var", "/var/lib", "/private", "/Library", "/Applications"];

/// Why `path` may not be shared, if it may not (`None`: it may). `gantry_root` is Gantry's own
/// directory of instances.
pub fn refused_share(path: &Path, gantry_root: &Path) -> Option<String> {
    let p = clean(path);
    if NEVER_EXACTLY.iter().any(|s| p == Path::new(s)) || NEVER_INSIDE.iter().any(|s| p.starts_with(s)) {
        return Some(format!("{} is a system folder; sharing it would expose this computer's own files", p.display()));
    }
    let root = clean(gantry_root);
    if p.starts_with(&root) {
        return Some(format!(
            "{} is inside Gantry's own directory {} (the VM's disk and keys)",
            p.display(),
            root.display()
        ));
    }
    None
}

/// The default shares: the home directory and the system temp directory (test frameworks
/// bind-mount temp folders), the outer one only when one holds the other.
pub fn default_shares(home: Option<&Path>, temp: &Path) -> Vec<SharedFolder> {
    let mut v: Vec<PathBuf> = Vec::new();
    for p in home.into_iter().chain([temp]) {
        let p = clean(p);
        if v.iter().any(|o| p.starts_with(o)) {
            continue;
        }
        v.retain(|o| !o.starts_with(&p));
        v.push(p);
    }
    v.into_iter().map(SharedFolder::writable).collect()
}

/// `path` with `.` and `..` resolved lexically (`..` at the root stays at the root) and repeated
/// separators removed; relative paths stay relative.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
                if out.as_os_str().is_empty() && path.is_absolute() {
                    out.push("/");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() && path.is_absolute() {
        out.push("/");
    }
    out
}

/// Why a mount was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    NotShared,
    GantryOwn,
    ReadOnlyShare {
        share: PathBuf,
    },
    NonRecursiveOverGantry,
    /// The request's JSON could not be read, so its mounts could not be checked.
    Unreadable {
        detail: String,
    },
}

/// A refused mount: the source and why; [`MountDenied::message`] is what the client shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountDenied {
    pub source: PathBuf,
    pub reason: DenyReason,
}

impl MountDenied {
    /// The sentence the docker CLI prints after "Error response from daemon:".
    pub fn message(&self, settings_file: &Path) -> String {
        let src = self.source.display();
        let how = format!(
            "share it (or a folder above it) in Gantry's Settings → Shared folders, or in vm.shared_folders of {}, then restart the VM",
            settings_file.display()
        );
        match &self.reason {
            DenyReason::NotShared => {
                format!("Mounts denied: the path {src} is not shared from this computer into Gantry's VM: {how}")
            }
            DenyReason::GantryOwn => format!(
                "Mounts denied: the path {src} is inside Gantry's own directory (the VM's disk and keys), which the VM never sees"
            ),
            DenyReason::ReadOnlyShare { share } => format!(
                "Mounts denied: the path {src} is in the read-only share {}: mount it read-only (add :ro, or readonly for --mount), or make the share writable in Settings → Shared folders",
                share.display()
            ),
            DenyReason::NonRecursiveOverGantry => format!(
                "Mounts denied: a non-recursive bind of {src} would show Gantry's own directory below it: bind it recursively (the default) or bind a folder that does not hold Gantry's directory"
            ),
            DenyReason::Unreadable { detail } => {
                format!("Gantry could not read this request's JSON to check its mounts: {detail}")
            }
        }
    }
}

/// One bind the request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindRequest {
    pub source: PathBuf,
    pub writable: bool,
    pub recursive: bool,
}

/// The shares and protected folders of a running VM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountPolicy {
    pub shares: Vec<SharedFolder>,
    /// Gantry's own directories (hidden in the guest; never a bind source).
    pub protected: Vec<PathBuf>,
}

/// Request bodies the policy reads: creates that can carry bind mounts.
pub fn inspects(api_path: &str) -> bool {
    let p = api_path.to_ascii_lowercase();
    p == "/containers/create"
        || p == "/volumes/create"
        || p == "/services/create"
        || (p.starts_with("/services/") && p.ends_with("/update"))
}

impl MountPolicy {
    /// Checks one bind (see the module's rules).
    pub fn check_bind(&self, bind: &BindRequest) -> Result<(), MountDenied> {
        let lexical = clean(&bind.source);
        self.check_path(&lexical, bind)?;
        // symlinks on this computer resolve the same way inside the share
        if let Ok(real) = std::fs::canonicalize(&lexical)
            && real != lexical
        {
            self.check_path(&real, bind)?;
        }
        Ok(())
    }

    fn check_path(&self, path: &Path, bind: &BindRequest) -> Result<(), MountDenied> {
        let deny = |reason| Err(MountDenied { source: path.to_owned(), reason });
        if !path.is_absolute() {
            return Ok(()); // a named volume
        }
        let protected: Vec<PathBuf> = self.protected.iter().map(|p| clean(p)).collect();
        if protected.iter().any(|g| path.starts_with(g)) {
            return deny(DenyReason::GantryOwn);
        }
        if !bind.recursive && protected.iter().any(|g| g.starts_with(path)) {
            return deny(DenyReason::NonRecursiveOverGantry);
        }
        let share =
            self.shares.iter().filter(|s| path.starts_with(clean(&s.path))).max_by_key(|s| s.path.as_os_str().len());
        match share {
            None => deny(DenyReason::NotShared),
            Some(s) if s.read_only && bind.writable => deny(DenyReason::ReadOnlyShare { share: s.path.clone() }),
            Some(_) => Ok(()),
        }
    }

    /// Checks every bind in a create request's JSON body.
    pub fn check_body(&self, body: &[u8]) -> Result<(), MountDenied> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(()); // nothing to create from: dockerd says so itself
        }
        for b in binds_in(body)
            .map_err(|detail| MountDenied { source: PathBuf::new(), reason: DenyReason::Unreadable { detail } })?
        {
            self.check_bind(&b)?;
        }
        Ok(())
    }
}

/// JSON with every duplicate key kept (Go's decoder applies each of them).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number,
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
                Ok(Json::Number)
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::Str(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Json::Array(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, Json>()? {
                    v.push((k, x));
                }
                Ok(Json::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Json {
    /// Every value of `key` (ASCII case-insensitive, duplicates included) in this object.
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Json> + 'a {
        let fields: &[(String, Json)] = match self {
            Json::Object(f) => f,
            _ => &[],
        };
        fields.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
    }
    fn strs<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.all(key).filter_map(|v| if let Json::Str(s) = v { Some(s.as_str()) } else { None })
    }
    /// True only when every value of `key` is `true` (the conservative reading of duplicates).
    fn all_true(&self, key: &str) -> bool {
        let mut any = false;
        for v in self.all(key) {
            if *v != Json::Bool(true) {
                return false;
            }
            any = true;
        }
        any
    }
    fn any_true(&self, key: &str) -> bool {
        self.all(key).any(|v| *v == Json::Bool(true))
    }
}

/// The first JSON value of `body`, read like Go's `json.Decoder` (trailing bytes ignored,
/// invalid UTF-8 replaced).
fn first_value(body: &[u8]) -> Result<Json, String> {
    let text = String::from_utf8_lossy(body);
    let mut it = serde_json::Deserializer::from_str(&text).into_iter::<Json>();
    match it.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("empty body".into()),
    }
}

/// Every bind a request body asks for, wherever it appears: `Binds` strings (`src:dst[:opts]`),
/// mount objects of type `bind`, and local-driver volume options `o=bind`/`rbind` with a `device`.
pub fn binds_in(body: &[u8]) -> Result<Vec<BindRequest>, String> {
    let v = first_value(body)?;
    let mut out = Vec::new();
    walk(&v, &mut out);
    Ok(out)
}

fn walk(v: &Json, out: &mut Vec<BindRequest>) {
    match v {
        Json::Array(items) => items.iter().for_each(|x| walk(x, out)),
        Json::Object(fields) => {
            for b in v.all("binds") {
                if let Json::Array(specs) = b {
                    out.extend(specs.iter().filter_map(|s| if let Json::Str(s) = s { bind_spec(s) } else { None }));
                }
            }
            if v.strs("type").any(|t| t.eq_ignore_ascii_case("bind")) {
                let writable = !v.all_true("readonly");
                let recursive = !v.all("bindoptions").any(|o| o.any_true("nonrecursive"));
                for s in v.strs("source") {
                    out.push(BindRequest { source: PathBuf::from(s), writable, recursive });
                }
            }
            let opts: Vec<&str> = v.strs("o").flat_map(|o| o.split(',')).map(str::trim).collect();
            if opts.iter().any(|o| *o == "bind" || *o == "rbind") {
                let writable = !opts.contains(&"ro");
                let recursive = !opts.contains(&"bind");
                for s in v.strs("device") {
                    out.push(BindRequest { source: PathBuf::from(s), writable, recursive });
                }
            }
            fields.iter().for_each(|(_, x)| walk(x, out));
        }
        _ => {}
    }
}

/// A `Binds` entry `src:dst[:opts]` as dockerd's Linux parser reads it: a bind when the source
/// is an absolute path (else a named volume); read-only with the `ro` option.
pub fn bind_spec(spec: &str) -> Option<BindRequest> {
    let mut parts = spec.splitn(4, ':');
    let source = parts.next()?;
    let _target = parts.next()?;
    if !source.starts_with('/') {
        return None;
    }
    let opts = parts.next().unwrap_or("");
    let writable = !opts.split(',').any(|o| o == "ro");
    Some(BindRequest { source: PathBuf::from(source), writable, recursive: true })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn policy() -> MountPolicy {
        MountPolicy {
            shares: vec![
                SharedFolder::writable("/home/me"),
                SharedFolder::writable("/tmp"),
                SharedFolder { path: "/home/me/ref".into(), read_only: true },
                SharedFolder { path: "/srv/data".into(), read_only: true },
            ],
            protected: vec!["/home/me/.local/share/gantry".into()],
        }
    }

    #[cfg(unix)]
    fn create(binds: &[&str]) -> Vec<u8> {
        serde_json::json!({"Image": "busybox", "HostConfig": {"Binds": binds}}).to_string().into_bytes()
    }

    #[cfg(unix)]
    fn reason(body: &[u8]) -> Option<DenyReason> {
        policy().check_body(body).err().map(|d| d.reason)
    }

    #[test]
    fn share_specs_read_old_and_new_forms() {
        let v: Vec<SharedFolder> =
            serde_json::from_str(r#"["/a", {"path": "/b", "read_only": true}, {"path": "/c"}]"#).unwrap();
        assert_eq!(
            v,
            vec![
                SharedFolder::writable("/a"),
                SharedFolder { path: "/b".into(), read_only: true },
                SharedFolder::writable("/c")
            ]
        );
        assert_eq!(serde_json::to_value(&v[1]).unwrap(), serde_json::json!({"path": "/b", "read_only": true}));
    }

    #[test]
    fn system_folders_and_gantrys_own_are_never_shared() {
        let root = Path::new("/home/me/.local/share/gantry");
        for bad in [
            "/",
            "/etc",
            "/usr",
            "/usr/local",
            "/etc/ssh",
            "/var",
            "/proc",
            "/sys/kernel",
            "/boot",
            "/home/me/.local/share/gantry/default",
            "/etc/../etc",
        ] {
            assert!(refused_share(Path::new(bad), root).is_some(), "{bad}");
        }
        for ok in ["/home/me", "/tmp", "/home", "/srv/data", "/var/folders/xy/T", "/opt/work"] {
            assert_eq!(refused_share(Path::new(ok), root), None, "{ok}");
        }
    }

    #[test]
    fn default_shares_are_home_and_temp_without_nesting() {
        let d = default_shares(Some(Path::new("/home/me")), Path::new("/tmp"));
        assert_eq!(d, vec![SharedFolder::writable("/home/me"), SharedFolder::writable("/tmp")]);
        let nested = default_shares(Some(Path::new("/tmp/h")), Path::new("/tmp"));
        assert_eq!(nested, vec![SharedFolder::writable("/tmp")]);
        assert_eq!(default_shares(None, Path::new("/tmp")), vec![SharedFolder::writable("/tmp")]);
    }

    #[cfg(unix)] // host paths in unix form: Windows paths (C:\..., /c/...) are not handled yet (docs/windows.md)
    #[test]
    fn clean_resolves_dots_lexically() {
        assert_eq!(clean(Path::new("/home/me/../../etc")), Path::new("/etc"));
        assert_eq!(clean(Path::new("/../../x")), Path::new("/x"));
        assert_eq!(clean(Path::new("//tmp/./a//b/")), Path::new("/tmp/a/b"));
        assert_eq!(clean(Path::new("/..")), Path::new("/"));
    }

    #[cfg(unix)] // host paths in unix form: Windows paths (C:\..., /c/...) are not handled yet (docs/windows.md)
    #[test]
    fn binds_inside_shares_pass_others_are_refused_with_the_path() {
        assert_eq!(reason(&create(&["/home/me/proj:/app", "/tmp/x:/x:ro", "named:/data", "/home/me/ref:/r:ro"])), None);
        assert_eq!(reason(&create(&["/opt/x:/x"])), Some(DenyReason::NotShared));
        assert_eq!(reason(&create(&["/home/me/../../etc:/x"])), Some(DenyReason::NotShared));
        assert_eq!(reason(&create(&["/home/me/.local/share/gantry/default:/k"])), Some(DenyReason::GantryOwn));
        assert_eq!(
            reason(&create(&["/home/me/ref/a:/r"])),
            Some(DenyReason::ReadOnlyShare { share: "/home/me/ref".into() })
        );
        let d = policy().check_body(&create(&["/opt/x:/x"])).unwrap_err();
        let m = d.message(Path::new("/s/settings.json"));
        assert!(m.contains("/opt/x") && m.contains("Shared folders") && m.contains("/s/settings.json"), "{m}");
    }

    #[cfg(unix)] // host paths in unix form: Windows paths (C:\..., /c/...) are not handled yet (docs/windows.md)
    #[test]
    fn mounts_volumes_and_go_decoder_quirks_are_all_seen() {
        let mounts = |m: serde_json::Value| serde_json::json!({"HostConfig": {"Mounts": [m]}}).to_string().into_bytes();
        assert_eq!(
            reason(&mounts(serde_json::json!({"Type": "bind", "Source": "/opt", "Target": "/o"}))),
            Some(DenyReason::NotShared)
        );
        assert_eq!(
            reason(&mounts(
                serde_json::json!({"Type": "bind", "Source": "/srv/data", "Target": "/o", "ReadOnly": true})
            )),
            None
        );
        assert!(matches!(
            reason(&mounts(serde_json::json!({"Type": "bind", "Source": "/srv/data", "Target": "/o"}))),
            Some(DenyReason::ReadOnlyShare { .. })
        ));
        assert_eq!(
            reason(&mounts(
                serde_json::json!({"Type": "bind", "Source": "/home/me", "Target": "/h", "BindOptions": {"NonRecursive": true}})
            )),
            Some(DenyReason::NonRecursiveOverGantry)
        );
        assert_eq!(reason(&mounts(serde_json::json!({"Type": "bind", "Source": "/home/me", "Target": "/h"}))), None);
        // an inline local volume that binds a folder
        let vol = serde_json::json!({"Type": "volume", "Target": "/v", "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": {"type": "none", "o": "bind", "device": "/etc"}}}});
        assert_eq!(reason(&mounts(vol)), Some(DenyReason::NotShared));
        // docker volume create --opt o=bind --opt device=/home/me (non-recursive over Gantry's dir)
        let create_vol =
            br#"{"Name":"v","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/home/me"}}"#;
        assert_eq!(reason(create_vol), Some(DenyReason::NonRecursiveOverGantry));
        // Go matches keys case-insensitively and applies duplicates; trailing bytes are ignored
        assert_eq!(reason(br#"{"hostconfig":{"BINDS":["/opt:/o"]}}"#), Some(DenyReason::NotShared));
        assert_eq!(
            reason(br#"{"HostConfig":{"Binds":["/opt:/o"]},"HostConfig":{"Binds":[]}}"#),
            Some(DenyReason::NotShared)
        );
        assert_eq!(reason(br#"{"HostConfig":{"Binds":["/tmp:/t"]}} {"HostConfig":{"Binds":["/opt:/o"]}}"#), None);
        assert_eq!(reason(b"{\"HostConfig\":{\"Binds\":[\"/op\xfft:/o\"]}}"), Some(DenyReason::NotShared));
        assert!(matches!(reason(b"{not json"), Some(DenyReason::Unreadable { .. })));
        assert_eq!(reason(b"  "), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_inside_a_share_that_leads_out_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let share = t.path().join("share");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, share.join("link")).unwrap();
        let p = MountPolicy { shares: vec![SharedFolder::writable(&share)], protected: vec![] };
        let b = |s: &Path| BindRequest { source: s.to_owned(), writable: true, recursive: true };
        assert!(p.check_bind(&b(&share.join("dir"))).is_ok());
        assert_eq!(p.check_bind(&b(&share.join("link"))).unwrap_err().reason, DenyReason::NotShared);
    }

    #[test]
    fn inspected_paths() {
        for p in
            ["/containers/create", "/volumes/create", "/services/create", "/services/abc/update", "/Containers/Create"]
        {
            assert!(inspects(p), "{p}");
        }
        for p in ["/containers/json", "/containers/abc/start", "/images/create", "/_ping"] {
            assert!(!inspects(p), "{p}");
        }
    }
}
