//! gantry-vz: Gantry's Apple Virtualization helper. The agent writes a [`config::VzConfig`] and
//! runs `gantry-vz run CONFIG.json`; gantry-vz boots the guest with Virtualization.framework on
//! its own dispatch queue (Linux boot loader, virtio-blk root and data disks, NAT, virtiofs
//! shares, the console to a log file, the guest settings on a second virtio console port) and
//! relays the engine's virtio-socket port to an owner-only unix socket. Its input takes `stop`
//! (or closes): the guest is asked to power off, and stopped after a grace period.
//!
//! The configuration is plain data checked on every system ([`config`]); the framework calls
//! ([`vz`], macOS only) are type-checked in CI on Linux and need a Mac to run.

pub mod config;
pub mod protocol;
#[cfg(target_os = "macos")]
pub mod vz;

#[cfg(test)]
mod tests {
    /// installer/macos/build-app.sh signs gantry-vz with this file: the virtualization
    /// entitlement, and nothing else.
    #[test]
    fn the_entitlements_grant_virtualization_only() {
        let plist = include_str!("../../../installer/macos/gantry-vz.entitlements");
        let keys: Vec<&str> =
            plist.lines().filter_map(|l| l.trim().strip_prefix("<key>")?.strip_suffix("</key>")).collect();
        assert_eq!(keys, ["com.apple.security.virtualization"]);
        assert!(plist.contains("<key>com.apple.security.virtualization</key>\n\t<true/>"));
    }
}
