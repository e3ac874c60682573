//! Every `wsl.exe` command line the driver runs, built from validated names and paths only
//! (never a shell command: `--exec` runs a program with its arguments as given).

use std::ffi::OsString;
use std::path::Path;

use super::error::WslError;
use super::list::is_distro_name;

/// The guest program the engine distribution runs as its keep-alive process
/// (vm-images/init/wsl-init): it reads the TLS material and settings on its standard input
/// ([`super::payload`]), puts the engine's data on the data distribution's root (its argument,
/// [`Distros::data_mount`]), starts the engine as the VM's init does, prints the same
/// `gantry-init:` lines, and stops the engine when its input closes.
pub const ENGINE_INIT: &str = "/usr/lib/gantry/wsl-init";
/// The data distribution's keep-alive program (vm-images/init/wsl-data): bind-mounts its root at the path it is given
/// (under `/mnt/wsl`, which every WSL 2 distribution shares) and waits until its input closes.
pub const DATA_INIT: &str = "/usr/lib/gantry/wsl-data";

/// The two distributions of one Gantry instance: the engine (replaced on upgrade) and its data
/// (images, containers, volumes: kept across upgrades).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distros {
    pub engine: String,
    pub data: String,
}

impl Distros {
    /// `gantry` and `gantry-data` for the default instance, `gantry-NAME` and
    /// `gantry-NAME-data` for the others.
    pub fn for_instance(instance: &str) -> Result<Self, WslError> {
        if instance.is_empty() {
            return Err(WslError::BadName { name: String::new() });
        }
        let engine = if instance == "default" { "gantry".to_owned() } else { format!("gantry-{instance}") };
        let data = format!("{engine}-data");
        for name in [&engine, &data] {
            if !is_distro_name(name) {
                return Err(WslError::BadName { name: name.clone() });
            }
        }
        Ok(Self { engine, data })
    }

    /// Where the data distribution's root appears inside the engine distribution.
    pub fn data_mount(&self) -> String {
        format!("/mnt/wsl/gantry/{}/data", self.engine)
    }
}

fn args<const N: usize>(words: [&str; N]) -> Vec<OsString> {
    words.into_iter().map(OsString::from).collect()
}

/// `--import NAME DIR TARBALL --version 2`: registers a distribution whose disk lives in DIR.
pub fn import(name: &str, install_dir: &Path, tarball: &Path) -> Vec<OsString> {
    let mut a = args(["--import", name]);
    a.push(install_dir.as_os_str().to_owned());
    a.push(tarball.as_os_str().to_owned());
    a.extend(args(["--version", "2"]));
    a
}

/// `--list --quiet`: every registered name.
pub fn list_names() -> Vec<OsString> {
    args(["--list", "--quiet"])
}

/// `--list --running --quiet`: the running ones.
pub fn list_running() -> Vec<OsString> {
    args(["--list", "--running", "--quiet"])
}

/// `--list --verbose`: names with their WSL version.
pub fn list_verbose() -> Vec<OsString> {
    args(["--list", "--verbose"])
}

/// `--status`: WSL's default version and kernel; fails where WSL 2 cannot run (the driver's
/// probe, [`crate::driver::WslAvailability`]).
pub fn status() -> Vec<OsString> {
    args(["--status"])
}

/// `--terminate NAME`: stops a distribution at once (after the engine was stopped cleanly).
pub fn terminate(name: &str) -> Vec<OsString> {
    args(["--terminate", name])
}

/// `--unregister NAME`: deletes a distribution and its disk.
pub fn unregister(name: &str) -> Vec<OsString> {
    args(["--unregister", name])
}

/// The engine's keep-alive process, told where the data distribution's root appears.
pub fn engine_keep_alive(distros: &Distros) -> Vec<OsString> {
    args(["--distribution", &distros.engine, "--user", "root", "--exec", ENGINE_INIT, &distros.data_mount()])
}

/// The data distribution's keep-alive process, which mounts its root for the engine.
pub fn data_keep_alive(distros: &Distros) -> Vec<OsString> {
    args(["--distribution", &distros.data, "--user", "root", "--exec", DATA_INIT, &distros.data_mount()])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn words(a: &[OsString]) -> Vec<&str> {
        a.iter().map(|w| w.to_str().unwrap()).collect()
    }

    #[test]
    fn names_per_instance_and_refused_ones() {
        assert_eq!(
            Distros::for_instance("default").unwrap(),
            Distros { engine: "gantry".into(), data: "gantry-data".into() }
        );
        let work = Distros::for_instance("work").unwrap();
        assert_eq!((work.engine.as_str(), work.data.as_str()), ("gantry-work", "gantry-work-data"));
        assert_eq!(work.data_mount(), "/mnt/wsl/gantry/gantry-work/data");
        for bad in ["a b", "x;y", "", "é", &"x".repeat(60)] {
            assert!(matches!(Distros::for_instance(bad), Err(WslError::BadName { .. })), "{bad:?}");
        }
    }

    #[test]
    fn command_lines() {
        let d = Distros::for_instance("default").unwrap();
        let dir = Path::new(r"C:\Users\Ann Lee\AppData\Local\gantry\default\wsl\engine");
        let tar = Path::new(r"C:\Program Files\Gantry\guest\wsl-rootfs.tar.gz");
        // a path with spaces stays one argument
        assert_eq!(
            words(&import(&d.engine, dir, tar)),
            ["--import", "gantry", dir.to_str().unwrap(), tar.to_str().unwrap(), "--version", "2"]
        );
        assert_eq!(
            words(&engine_keep_alive(&d)),
            ["--distribution", "gantry", "--user", "root", "--exec", ENGINE_INIT, "/mnt/wsl/gantry/gantry/data"]
        );
        assert_eq!(
            words(&data_keep_alive(&d)),
            ["--distribution", "gantry-data", "--user", "root", "--exec", DATA_INIT, "/mnt/wsl/gantry/gantry/data"]
        );
        assert_eq!(words(&terminate("gantry")), ["--terminate", "gantry"]);
        assert_eq!(words(&unregister("gantry")), ["--unregister", "gantry"]);
        assert_eq!(words(&list_running()), ["--list", "--running", "--quiet"]);
        assert_eq!(words(&list_names()), ["--list", "--quiet"]);
        assert_eq!(words(&list_verbose()), ["--list", "--verbose"]);
        assert_eq!(words(&status()), ["--status"]);
    }
}
