//! The QEMU command line, built by one pure function ([`build_args`]) from a [`QemuSpec`] and
//! the host OS, so that every OS's variant is unit-tested on any machine.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::accel::{Accel, HostOs};
use crate::arch::GuestArch;
use crate::qemu_tuning::QemuTuning;

/// Where QMP listens: a unix socket (Linux, macOS) or a loopback TCP port (Windows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QmpEndpoint {
    Unix(PathBuf),
    Tcp(u16),
}

/// A file passed to the guest through QEMU's fw_cfg (`opt/<name>`), read in the guest from
/// `/sys/firmware/qemu_fw_cfg/by_name/<name>/raw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwCfgFile {
    /// e.g. `opt/gantry/ca.pem`
    pub name: String,
    pub file: PathBuf,
}

/// A host directory shared into the guest (virtio-9p) under `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub tag: String,
    pub host_path: PathBuf,
    /// QEMU refuses every write from the guest (`readonly=on`).
    pub read_only: bool,
}

/// Everything the command line depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuSpec {
    /// The guest image's architecture: the machine type and the emulator binary.
    pub arch: GuestArch,
    pub accel: Accel,
    pub cpus: u32,
    pub memory_mib: u64,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Read-only root filesystem image (squashfs), attached before the data disk.
    pub rootfs: Option<PathBuf>,
    pub cmdline: String,
    pub data_disk: PathBuf,
    pub qmp: QmpEndpoint,
    /// A second monitor, for a client that stays connected to hear events.
    pub events_qmp: Option<QmpEndpoint>,
    /// The unix socket of the guest agent's virtio-serial port ([`GUEST_AGENT_PORT`]), when
    /// the VM's state may be saved at stop ([`crate::guest_agent`]).
    pub guest_agent: Option<PathBuf>,
    pub console_log: PathBuf,
    pub pid_file: PathBuf,
    /// Host loopback port forwarded to the guest's TLS engine port.
    pub engine_host_port: u16,
    pub engine_guest_port: u16,
    /// Address the engine forward listens on (always loopback).
    pub engine_bind: IpAddr,
    pub shares: Vec<Share>,
    pub fw_cfg: Vec<FwCfgFile>,
    /// Run with `-sandbox` ([`SANDBOX`]): only where the binary supports it (probed).
    pub sandbox: bool,
    /// The translation cache's size, the guest's free page reporting (and QEMU's environment:
    /// [`QemuTuning::qemu_env`], applied by the driver).
    pub tuning: QemuTuning,
}

/// The QEMU system emulator's program name for a guest of `arch` on `os`.
pub fn qemu_binary(os: HostOs, arch: GuestArch) -> &'static str {
    match (os, arch) {
        (HostOs::Windows, GuestArch::X86_64) => "qemu-system-x86_64.exe",
        (HostOs::Windows, GuestArch::Aarch64) => "qemu-system-aarch64.exe",
        (_, GuestArch::X86_64) => "qemu-system-x86_64",
        (_, GuestArch::Aarch64) => "qemu-system-aarch64",
    }
}

/// `-machine`'s value: `q35` for x86-64; for arm64 `virt` with the best interrupt controller the
/// accelerator offers (`gic-version=max`: GICv3 under HVF and TCG, the host's under KVM), because
/// virt's default GICv2 stops at 8 vCPUs. Shared with the accelerator probe.
pub(crate) fn machine_type(arch: GuestArch) -> &'static str {
    match arch {
        GuestArch::X86_64 => "q35",
        GuestArch::Aarch64 => "virt,gic-version=max",
    }
}

/// The accelerator's arguments (`-accel ... -cpu ...`) for a guest of `arch`, shared by the boot
/// and the accelerator probe ([`crate::accel_probe`]) so that the probe tests exactly what the
/// boot will run. `tb_size_mib`: TCG's translation cache (without `tb-size` it grows to 1 GiB of
/// RSS; [`crate::qemu_tuning::TCG_TB_SIZE_MIB`] and its measurement).
pub(crate) fn accel_args(accel: Accel, os: HostOs, arch: GuestArch, tb_size_mib: u32) -> Vec<String> {
    // thread=single: with one host thread per vCPU (thread=multi), the guest kernel's live
    // code patching (static keys flipped when the first container starts) raced another
    // vCPU and the guest died with "Oops: int3" in CI; one thread runs the vCPUs in turn,
    // so a patch is seen by every vCPU before it runs again (and was not slower under load).
    let tcg = format!("tcg,thread=single,tb-size={tb_size_mib}");
    let v: [&str; 4] = match (accel, os) {
        // pauth-impdef=on: QEMU's own pointer-authentication algorithm instead of the
        // architected QARMA, which is slow to emulate (QEMU's Arm CPU features documentation).
        (Accel::Tcg, _) if arch == GuestArch::Aarch64 => ["-accel", &tcg, "-cpu", "max,pauth-impdef=on"],
        (Accel::Kvm, _) => ["-accel", "kvm", "-cpu", "host"],
        (Accel::Hvf, _) => ["-accel", "hvf", "-cpu", "host"],
        // kernel-irqchip=off: WHPX's in-kernel irqchip breaks Linux guests on many builds.
        (Accel::Whpx, _) => ["-accel", "whpx,kernel-irqchip=off", "-cpu", "max"],
        // la57=off: the guest kernel then uses 4-level paging, as on most real CPUs; with 5-level
        // paging emulated by TCG a guest died once in slub allocation with CR4.LA57 set.
        (Accel::Tcg, _) => ["-accel", &tcg, "-cpu", "max,la57=off"],
    };
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Builds QEMU's arguments (without the program name). Pure: no I/O.
///
/// Every path goes into an option whose value QEMU splits at commas, so each is escaped the same
/// way ([`opt_path`]: `,` doubled) and kept as the OS string it is (non-UTF-8 bytes included);
/// the console is a `-chardev file` for that reason (`-serial file:` does not escape).
pub fn build_args(spec: &QemuSpec, os: HostOs) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let push = |a: &mut Vec<OsString>, xs: &[&str]| a.extend(xs.iter().map(OsString::from));
    push(&mut a, &["-name", "gantry", "-machine", machine_type(spec.arch), "-nodefaults", "-no-user-config"]);
    push(&mut a, &["-display", "none", "-vga", "none"]);
    if spec.sandbox {
        // seccomp: no obsolete syscalls, no setuid, no fork/exec, no scheduler changes
        push(&mut a, &["-sandbox", SANDBOX]);
    }
    a.extend(accel_args(spec.accel, os, spec.arch, spec.tuning.tcg_tb_size_mib).into_iter().map(OsString::from));
    a.extend(["-smp".into(), spec.cpus.to_string().into(), "-m".into(), format!("{}M", spec.memory_mib).into()]);
    a.extend(["-kernel".into(), spec.kernel.clone().into_os_string()]);
    a.extend(["-initrd".into(), spec.initrd.clone().into_os_string()]);
    a.extend(["-append".into(), spec.tuning.kernel_cmdline(&spec.cmdline).into()]);
    // Disks: root image first (vda), data disk second (vdb).
    if let Some(rootfs) = &spec.rootfs {
        a.extend(["-drive".into(), opt("if=virtio,format=raw,readonly=on,file=", rootfs, "")]);
    }
    // discard=unmap: what the guest's filesystem frees (it mounts with `discard`) is punched out
    // of the qcow2 file, so deleting an image gives the host its space back; detect-zeroes=unmap:
    // blocks the guest writes as zeros become holes too instead of allocated clusters of zeros.
    a.extend([
        "-drive".into(),
        opt("if=virtio,format=qcow2,discard=unmap,detect-zeroes=unmap,cache=writeback,file=", &spec.data_disk, ""),
    ]);
    // Network: QEMU user networking; the engine's TLS port forwarded to host loopback.
    let bind = match spec.engine_bind {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    a.extend([
        "-netdev".into(),
        format!("user,id=net0,hostfwd=tcp:{bind}:{}-:{}", spec.engine_host_port, spec.engine_guest_port).into(),
        "-device".into(),
        "virtio-net-pci,netdev=net0".into(),
    ]);
    // Shared folders: virtio-9p (QEMU on Windows has no 9p backend: the WSL2 driver shares there).
    if os != HostOs::Windows {
        for s in &spec.shares {
            let tail = format!(
                ",mount_tag={},security_model=none,id={}{}",
                s.tag,
                s.tag,
                if s.read_only { ",readonly=on" } else { "" }
            );
            a.extend(["-virtfs".into(), opt("local,path=", &s.host_path, &tail)]);
        }
    }
    for f in &spec.fw_cfg {
        let mut v = OsString::from("name=");
        v.push(f.name.replace(',', ",,"));
        v.push(opt(",file=", &f.file, ""));
        a.extend(["-fw_cfg".into(), v]);
    }
    // Console to a file (repeated -serial, never isa-serial: that drops the default console).
    a.extend(["-chardev".into(), opt("file,id=console,path=", &spec.console_log, "")]);
    a.extend(["-serial".into(), "chardev:console".into()]);
    for qmp in std::iter::once(&spec.qmp).chain(&spec.events_qmp) {
        a.extend([
            "-qmp".into(),
            match qmp {
                QmpEndpoint::Unix(p) => opt("unix:", p, ",server=on,wait=off"),
                QmpEndpoint::Tcp(port) => format!("tcp:127.0.0.1:{port},server=on,wait=off").into(),
            },
        ]);
    }
    // QEMU's guest agent in the guest, on a virtio-serial port (the saved state's steps)
    if let Some(sock) = &spec.guest_agent {
        a.extend(["-device".into(), "virtio-serial-pci,id=vser0".into()]);
        a.extend(["-chardev".into(), opt("socket,id=guestagent,path=", sock, ",server=on,wait=off")]);
        a.extend([
            "-device".into(),
            format!("virtserialport,bus=vser0.0,chardev=guestagent,name={GUEST_AGENT_PORT}").into(),
        ]);
    }
    a.extend(["-pidfile".into(), spec.pid_file.clone().into_os_string()]);
    // A guest that reboots (its kernel panicked: the cmdline says panic=-1) ends QEMU instead of
    // booting again behind the agent's back, where every open engine connection would hang.
    a.push("-no-reboot".into());
    // Random numbers for the guest (fast TLS start-up).
    a.extend(["-device".into(), "virtio-rng-pci".into()]);
    // Free page reporting: memory the guest frees (a container exits, a build ends) goes back to
    // this computer within seconds instead of staying in QEMU's RSS until the VM stops. The
    // balloon itself is inflated once after start-up to drop the boot's caches
    // ([`crate::memory`]); deflate-on-oom: a guest short of memory meanwhile takes pages back from
    // the balloon instead of killing a process.
    a.extend([
        "-device".into(),
        format!("virtio-balloon-pci,id={BALLOON_ID},free-page-reporting=on,deflate-on-oom=on").into(),
    ]);
    a
}

/// The virtio-serial port the guest's qemu-ga listens on (its default name).
pub const GUEST_AGENT_PORT: &str = "org.qemu.guest_agent.0";

/// A migration URI for a unix socket (`-incoming`'s value for a restore, `migrate`'s for a
/// save): QEMU takes the rest of the URI as the path as it is (no option escaping).
pub fn migration_uri(socket: &std::path::Path) -> OsString {
    let mut v = OsString::from("unix:");
    v.push(socket.as_os_str());
    v
}

/// The balloon device's id (`/machine/peripheral/<id>` in QOM).
pub const BALLOON_ID: &str = "balloon0";

/// The `-sandbox` value Gantry asks for where QEMU supports it ([`sandbox_probe_args`]).
pub const SANDBOX: &str = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

/// Arguments that make QEMU exit at once, successfully only when it can sandbox itself: QEMU
/// built without seccomp refuses `-sandbox`; with it, `-version` prints and exits.
pub fn sandbox_probe_args() -> Vec<&'static str> {
    vec!["-sandbox", SANDBOX, "-version"]
}

/// `prefix` + `path` escaped for QEMU's comma-separated option values + `suffix`.
fn opt(prefix: &str, path: &std::path::Path, suffix: &str) -> OsString {
    let mut v = OsString::from(prefix);
    v.push(opt_path(path));
    v.push(suffix);
    v
}

/// QEMU's option parser splits at `,`; a literal comma is written `,,`. Bytes are kept as they
/// are (non-UTF-8 paths included).
pub fn opt_path(p: &std::path::Path) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let mut out = Vec::with_capacity(p.as_os_str().len());
        for &b in p.as_os_str().as_bytes() {
            out.push(b);
            if b == b',' {
                out.push(b',');
            }
        }
        OsString::from_vec(out)
    }
    #[cfg(not(unix))]
    {
        OsString::from(p.to_string_lossy().replace(',', ",,"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu_tuning::TCG_TB_SIZE_MIB;
    use std::net::Ipv4Addr;

    fn spec(accel: Accel) -> QemuSpec {
        QemuSpec {
            arch: GuestArch::X86_64,
            accel,
            cpus: 2,
            memory_mib: 2048,
            kernel: "/img/vmlinuz".into(),
            initrd: "/img/initrd.img".into(),
            rootfs: Some("/img/rootfs.squashfs".into()),
            cmdline: "console=ttyS0 quiet".into(),
            data_disk: "/inst/disk.qcow2".into(),
            qmp: QmpEndpoint::Unix("/inst/qmp.sock".into()),
            events_qmp: Some(QmpEndpoint::Unix("/inst/qmp-events.sock".into())),
            guest_agent: Some("/inst/guest-agent.sock".into()),
            console_log: "/inst/console.log".into(),
            pid_file: "/inst/qemu.pid".into(),
            engine_host_port: 41234,
            engine_guest_port: 2376,
            engine_bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            shares: vec![
                Share { tag: "share0".into(), host_path: "/home/me".into(), read_only: false },
                Share { tag: "share1".into(), host_path: "/srv/ref".into(), read_only: true },
            ],
            fw_cfg: vec![FwCfgFile { name: "opt/gantry/ca.pem".into(), file: "/inst/tls/ca.pem".into() }],
            sandbox: false,
            tuning: QemuTuning::default(),
        }
    }

    fn joined(a: &[OsString]) -> String {
        a.iter().map(|x| x.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn linux_kvm() {
        let a = build_args(&spec(Accel::Kvm), HostOs::Linux);
        let s = joined(&a);
        assert!(s.contains("-accel kvm -cpu host"), "{s}");
        assert!(s.contains("-smp 2 -m 2048M"));
        assert!(s.contains("-kernel /img/vmlinuz -initrd /img/initrd.img"));
        let i = a.iter().position(|x| x == "-append").unwrap_or(0);
        assert_eq!(a[i + 1], "console=ttyS0 quiet");
        let mut sb = spec(Accel::Kvm);
        sb.sandbox = true;
        assert!(joined(&build_args(&sb, HostOs::Linux)).contains(&format!("-sandbox {SANDBOX}")));
        assert!(s.contains("hostfwd=tcp:127.0.0.1:41234-:2376"));
        assert!(s.contains("-virtfs local,path=/home/me,mount_tag=share0,security_model=none,id=share0 "), "{s}");
        assert!(s.contains("-virtfs local,path=/srv/ref,mount_tag=share1,security_model=none,id=share1,readonly=on"));
        assert!(s.contains("-fw_cfg name=opt/gantry/ca.pem,file=/inst/tls/ca.pem"));
        assert!(s.contains("-chardev file,id=console,path=/inst/console.log -serial chardev:console"), "{s}");
        assert!(!s.contains("-sandbox"));
        assert!(s.contains("-qmp unix:/inst/qmp.sock,server=on,wait=off"));
        assert!(s.contains("-qmp unix:/inst/qmp-events.sock,server=on,wait=off"));
        assert!(s.contains("-pidfile /inst/qemu.pid"));
        assert!(
            s.contains(
                "-device virtio-serial-pci,id=vser0 -chardev socket,id=guestagent,path=/inst/guest-agent.sock,\
                 server=on,wait=off -device virtserialport,bus=vser0.0,chardev=guestagent,name=org.qemu.guest_agent.0"
            ),
            "the guest agent's port: {s}"
        );
        assert_eq!(migration_uri(std::path::Path::new("/in,st/m.sock")), "unix:/in,st/m.sock");
        assert!(s.contains("-device virtio-balloon-pci,id=balloon0,free-page-reporting=on,deflate-on-oom=on"), "{s}");
        assert!(
            s.contains(
                "-drive if=virtio,format=qcow2,discard=unmap,detect-zeroes=unmap,cache=writeback,file=/inst/disk.qcow2"
            ),
            "the data disk gives freed blocks back: {s}"
        );
        assert!(!s.contains("isa-serial"));
        // root image is attached before the data disk
        let root = s.find("rootfs.squashfs").unwrap_or(usize::MAX);
        let data = s.find("disk.qcow2").unwrap_or(0);
        assert!(root < data);
    }

    #[test]
    fn linux_tcg_limits_translation_cache() {
        let s = joined(&build_args(&spec(Accel::Tcg), HostOs::Linux));
        let tcg = format!("-accel tcg,thread=single,tb-size={TCG_TB_SIZE_MIB} -cpu max,la57=off");
        assert!(s.contains(&tcg), "{s}");
        assert!(s.contains(" -no-reboot "), "{s}");
        let mut sp = spec(Accel::Tcg);
        sp.tuning.tcg_tb_size_mib = 16;
        sp.tuning.page_reporting_order = Some(5);
        let a = build_args(&sp, HostOs::Linux);
        let s = joined(&a);
        assert!(s.contains("-accel tcg,thread=single,tb-size=16 -cpu max,la57=off"), "{s}");
        let i = a.iter().position(|x| x == "-append").unwrap_or(0);
        assert_eq!(a[i + 1], "console=ttyS0 quiet page_reporting.page_reporting_order=5");
        // no translation cache with a hardware accelerator
        sp.accel = Accel::Kvm;
        assert!(!joined(&build_args(&sp, HostOs::Linux)).contains("tb-size"));
    }

    #[test]
    fn macos_hvf() {
        let s = joined(&build_args(&spec(Accel::Hvf), HostOs::MacOs));
        assert!(s.contains("-accel hvf -cpu host"), "{s}");
        assert!(s.contains("-virtfs"));
    }

    #[test]
    fn windows_whpx_uses_tcp_qmp_and_no_9p() {
        let mut sp = spec(Accel::Whpx);
        sp.qmp = QmpEndpoint::Tcp(41235);
        sp.data_disk = r"C:\Users\me\gantry\disk.qcow2".into();
        let s = joined(&build_args(&sp, HostOs::Windows));
        assert!(s.contains("-accel whpx,kernel-irqchip=off"), "{s}");
        assert!(s.contains("-qmp tcp:127.0.0.1:41235,server=on,wait=off"));
        assert!(!s.contains("-virtfs"));
        assert!(s.contains(r"file=C:\Users\me\gantry\disk.qcow2"));
        assert_eq!(qemu_binary(HostOs::Windows, GuestArch::X86_64), "qemu-system-x86_64.exe");
        assert!(s.contains("-machine q35 "), "{s}");
    }

    /// QEMU with HVF on Apple silicon: the arm64 guest on `virt`, the host's CPU, PCI virtio
    /// devices as on x86 (the guest's console is virt's PL011 UART: `console=ttyAMA0` in the
    /// arm64 image's cmdline file), 9p shares and QMP on unix sockets as on Linux.
    #[test]
    fn macos_hvf_on_apple_silicon() {
        let mut sp = spec(Accel::Hvf);
        sp.arch = GuestArch::Aarch64;
        sp.cmdline = "console=ttyAMA0 panic=-1 quiet".into();
        let s = joined(&build_args(&sp, HostOs::MacOs));
        assert!(s.starts_with("-name gantry -machine virt,gic-version=max -nodefaults"), "{s}");
        assert!(s.contains("-accel hvf -cpu host -smp 2 -m 2048M"), "{s}");
        assert!(s.contains("-append console=ttyAMA0 panic=-1 quiet"), "{s}");
        assert!(s.contains("-device virtio-net-pci,netdev=net0"), "{s}");
        assert!(s.contains("-virtfs local,path=/home/me"), "{s}");
        assert!(s.contains("-qmp unix:/inst/qmp.sock"), "{s}");
        assert!(!s.contains("q35") && !s.contains("pauth"), "{s}");
        assert_eq!(qemu_binary(HostOs::MacOs, GuestArch::Aarch64), "qemu-system-aarch64");
        assert_eq!(qemu_binary(HostOs::MacOs, GuestArch::X86_64), "qemu-system-x86_64");
    }

    /// An arm64 guest under TCG (the arm64 boot test on a PC): fast pointer authentication.
    #[test]
    fn arm64_guest_under_tcg() {
        let mut sp = spec(Accel::Tcg);
        sp.arch = GuestArch::Aarch64;
        let s = joined(&build_args(&sp, HostOs::Linux));
        assert!(s.contains("-machine virt,gic-version=max "), "{s}");
        let tcg = format!("-accel tcg,thread=single,tb-size={TCG_TB_SIZE_MIB} -cpu max,pauth-impdef=on ");
        assert!(s.contains(&tcg), "{s}");
        assert_eq!(qemu_binary(HostOs::Linux, GuestArch::Aarch64), "qemu-system-aarch64");
    }

    #[test]
    fn commas_in_paths_are_escaped() {
        let mut sp = spec(Accel::Tcg);
        sp.data_disk = "/a,b/disk.qcow2".into();
        sp.qmp = QmpEndpoint::Unix("/a,b/qmp.sock".into());
        sp.console_log = "/a,b/console.log".into();
        let s = joined(&build_args(&sp, HostOs::Linux));
        assert!(s.contains("file=/a,,b/disk.qcow2"), "{s}");
        assert!(s.contains("-qmp unix:/a,,b/qmp.sock,server=on"), "{s}");
        assert!(s.contains("path=/a,,b/console.log"), "{s}");
    }
}
