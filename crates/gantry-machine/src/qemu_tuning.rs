//! What keeps an idle VM small on the host, besides the balloon ([`crate::memory`]): the size of
//! QEMU's translation cache under TCG, glibc's malloc in QEMU's environment, transparent huge
//! pages under the guest's memory, and how finely the guest reports the memory it frees. Measured by `./scripts/bench idle` (docs/benchmarks.md,
//! "Idle VM"), which compares these choices in one run through [`BENCH_VARIABLES`]: environment
//! variables for benchmarks, not settings a user is meant to change.

use crate::accel::{Accel, HostOs};
use crate::error::{MachineError, Result};

/// TCG's translation cache (`-accel tcg,tb-size=`), MiB. QEMU's own default (1 GiB) fills with
/// translated code until the cache is full and stays resident; a smaller cache is flushed and
/// refilled more often while the guest boots. Measured in one run (docs/benchmarks.md): 64 MiB
/// 15 flushes, 32 MiB 53 flushes and a 1.44× boot, 16 MiB 312 flushes and a 2.28× boot; each
/// halving takes its size out of the idle RSS. 64 MiB: the boot under TCG is what users wait for;
/// 32 MiB flushes (a path QEMU's default cache almost never takes) 3.5× as often, and guests
/// crashed under it (docs/benchmarks.md, "Stability").
pub const TCG_TB_SIZE_MIB: u32 = 64;

/// Benchmark override of [`QemuTuning::tcg_tb_size_mib`] (MiB, 1..=[`MAX_TB_SIZE_MIB`]).
pub const ENV_TB_SIZE: &str = "GANTRY_BENCH_TB_SIZE_MIB";
/// Benchmark override of [`QemuTuning::malloc`]: `tuned` or `glibc` (glibc's defaults).
pub const ENV_MALLOC: &str = "GANTRY_BENCH_QEMU_MALLOC";
/// Benchmark override of [`QemuTuning::page_reporting_order`]: `0`..=`10`, or `kernel` (the
/// guest kernel's own choice).
pub const ENV_REPORTING_ORDER: &str = "GANTRY_BENCH_PAGE_REPORTING_ORDER";
/// Benchmark override of [`QemuTuning::host_huge_pages`]: `on` or `off`.
pub const ENV_HUGE_PAGES: &str = "GANTRY_BENCH_QEMU_THP";
/// Every benchmark variable, for the benchmark and the docs.
pub const BENCH_VARIABLES: [&str; 4] = [ENV_TB_SIZE, ENV_MALLOC, ENV_REPORTING_ORDER, ENV_HUGE_PAGES];

/// The largest translation cache a benchmark may ask for (QEMU's own default).
pub const MAX_TB_SIZE_MIB: u32 = 1024;
/// The largest buddy order the guest kernel has (x86-64 and arm64 with 4 KiB pages: 10).
pub const MAX_REPORTING_ORDER: u8 = 10;

/// glibc's malloc in QEMU's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malloc {
    /// As glibc sets it up: one arena per thread up to 8 × cores, and a trim and mmap threshold
    /// that grow with the largest mapped block freed (up to 32 MiB), after which large blocks
    /// come from the heap and what is freed there can stay resident.
    Glibc,
    /// One arena, and fixed 128 KiB thresholds: large blocks are mapped and unmapped on their own,
    /// free memory at a heap's top goes back at once ([`MALLOC_ENV`]).
    Tuned,
}

/// [`Malloc::Tuned`]'s environment (mallopt(3): `MALLOC_ARENA_MAX`, `MALLOC_TRIM_THRESHOLD_`,
/// `MALLOC_MMAP_THRESHOLD_`; setting either threshold turns glibc's growing thresholds off).
pub const MALLOC_ENV: [(&str, &str); 3] =
    [("MALLOC_ARENA_MAX", "1"), ("MALLOC_TRIM_THRESHOLD_", "131072"), ("MALLOC_MMAP_THRESHOLD_", "131072")];

/// The choices above, one value each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QemuTuning {
    /// TCG's translation cache, MiB (ignored with a hardware accelerator: there is none).
    pub tcg_tb_size_mib: u32,
    pub malloc: Malloc,
    /// The smallest block of free guest memory (2^order pages) the guest reports to QEMU for
    /// discarding (`page_reporting.page_reporting_order=` on the kernel command line); `None`:
    /// the kernel's own choice (x86-64: order 9, 2 MiB).
    pub page_reporting_order: Option<u8>,
    /// Whether the host may back the guest's memory with transparent huge pages (QEMU asks for
    /// them: `madvise(MADV_HUGEPAGE)`). With them one 4 KiB page the guest touches keeps 2 MiB
    /// resident, and khugepaged fills a sparse 2 MiB range again after the balloon or free page
    /// reporting emptied most of it. Off: QEMU starts with `PR_SET_THP_DISABLE` (Linux hosts;
    /// [`Self::disable_host_huge_pages`]).
    pub host_huge_pages: bool,
}

impl Default for QemuTuning {
    fn default() -> Self {
        QemuTuning {
            tcg_tb_size_mib: TCG_TB_SIZE_MIB,
            // glibc's own: the tuned allocator saved 7 MiB and was one of three changes in runs
            // where guests crashed under TCG (docs/benchmarks.md); only the huge pages stay off
            malloc: Malloc::Glibc,
            page_reporting_order: None,
            host_huge_pages: false,
        }
    }
}

impl QemuTuning {
    /// The defaults, with any benchmark override read through `var` (the process environment in
    /// the driver). A value that does not parse is an error naming the variable: a benchmark
    /// must never measure something else than it says.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut t = QemuTuning::default();
        let bad = |name: &str, message: String| MachineError::InvalidConfig { field: name.to_owned(), message };
        if let Some(v) = var(ENV_TB_SIZE) {
            t.tcg_tb_size_mib = match v.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_TB_SIZE_MIB).contains(&n) => n,
                _ => return Err(bad(ENV_TB_SIZE, format!("{v:?} is not a size in MiB from 1 to {MAX_TB_SIZE_MIB}"))),
            };
        }
        if let Some(v) = var(ENV_MALLOC) {
            t.malloc = match v.trim() {
                "tuned" => Malloc::Tuned,
                "glibc" => Malloc::Glibc,
                _ => return Err(bad(ENV_MALLOC, format!("{v:?} is neither \"tuned\" nor \"glibc\""))),
            };
        }
        if let Some(v) = var(ENV_REPORTING_ORDER) {
            t.page_reporting_order = match v.trim() {
                "kernel" => None,
                n => match n.parse::<u8>() {
                    Ok(n) if n <= MAX_REPORTING_ORDER => Some(n),
                    _ => {
                        return Err(bad(
                            ENV_REPORTING_ORDER,
                            format!("{v:?} is neither \"kernel\" nor an order from 0 to {MAX_REPORTING_ORDER}"),
                        ));
                    }
                },
            };
        }
        if let Some(v) = var(ENV_HUGE_PAGES) {
            t.host_huge_pages = match v.trim() {
                "on" => true,
                "off" => false,
                _ => return Err(bad(ENV_HUGE_PAGES, format!("{v:?} is neither \"on\" nor \"off\""))),
            };
        }
        Ok(t)
    }

    /// Whether QEMU is to be started with transparent huge pages off (`PR_SET_THP_DISABLE`,
    /// inherited by a child and kept across exec: [`crate::process::set_huge_pages_disabled`]);
    /// only Linux has the flag, and only TCG turns it off: its footprint was measured there
    /// (docs/benchmarks.md), while a KVM guest runs faster on huge pages (fewer TLB misses)
    /// and that trade has not been measured.
    pub fn disable_host_huge_pages(&self, os: HostOs, accel: Accel) -> bool {
        os == HostOs::Linux && accel == Accel::Tcg && !self.host_huge_pages
    }

    /// Environment variables QEMU is started with: [`MALLOC_ENV`] where QEMU runs on glibc
    /// (Linux; macOS and Windows builds have their own allocators and ignore them).
    pub fn qemu_env(&self, os: HostOs) -> Vec<(&'static str, &'static str)> {
        match (self.malloc, os) {
            (Malloc::Tuned, HostOs::Linux) => MALLOC_ENV.to_vec(),
            _ => Vec::new(),
        }
    }

    /// `cmdline` with this tuning's kernel parameters appended.
    pub fn kernel_cmdline(&self, cmdline: &str) -> String {
        match self.page_reporting_order {
            Some(order) => format!("{} page_reporting.page_reporting_order={order}", cmdline.trim_end()),
            None => cmdline.to_owned(),
        }
    }

    /// One line for logs and the benchmark's tables, e.g. `tb-size=32, malloc tuned, reporting order kernel`.
    pub fn describe(&self) -> String {
        let malloc = match self.malloc {
            Malloc::Glibc => "glibc's malloc defaults",
            Malloc::Tuned => "malloc: one arena, fixed thresholds",
        };
        let order = self.page_reporting_order.map_or("the kernel's".to_owned(), |o| o.to_string());
        let thp = if self.host_huge_pages { "on" } else { "off" };
        format!("tb-size={} MiB, {malloc}, host THP {thp}, page reporting order {order}", self.tcg_tb_size_mib)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<QemuTuning> {
        let env: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        QemuTuning::from_env(|k| env.get(k).cloned())
    }

    #[test]
    fn defaults_without_overrides() {
        let t = from(&[]).unwrap();
        assert_eq!(t, QemuTuning::default());
        assert_eq!(t.tcg_tb_size_mib, TCG_TB_SIZE_MIB);
        assert_eq!(t.kernel_cmdline("console=ttyS0 quiet"), "console=ttyS0 quiet");
    }

    #[test]
    fn benchmark_overrides_are_read() {
        let t = from(&[(ENV_TB_SIZE, "16"), (ENV_MALLOC, "glibc"), (ENV_REPORTING_ORDER, "5"), (ENV_HUGE_PAGES, "on")])
            .unwrap();
        let want = QemuTuning {
            tcg_tb_size_mib: 16,
            malloc: Malloc::Glibc,
            page_reporting_order: Some(5),
            host_huge_pages: true,
        };
        assert_eq!(t, want);
        assert!(!t.disable_host_huge_pages(HostOs::Linux, Accel::Tcg));
        assert_eq!(
            t.kernel_cmdline("console=ttyS0 quiet "),
            "console=ttyS0 quiet page_reporting.page_reporting_order=5"
        );
        assert!(t.qemu_env(HostOs::Linux).is_empty());
        let t = from(&[
            (ENV_TB_SIZE, " 64\n"),
            (ENV_MALLOC, "tuned"),
            (ENV_REPORTING_ORDER, "kernel"),
            (ENV_HUGE_PAGES, "off"),
        ])
        .unwrap();
        let want = QemuTuning {
            tcg_tb_size_mib: 64,
            malloc: Malloc::Tuned,
            page_reporting_order: None,
            host_huge_pages: false,
        };
        assert_eq!(t, want);
        assert!(t.disable_host_huge_pages(HostOs::Linux, Accel::Tcg));
        assert!(!t.disable_host_huge_pages(HostOs::Linux, Accel::Kvm), "KVM keeps huge pages (unmeasured trade)");
        assert!(
            !t.disable_host_huge_pages(HostOs::MacOs, Accel::Tcg)
                && !t.disable_host_huge_pages(HostOs::Windows, Accel::Tcg)
        );
    }

    #[test]
    fn bad_overrides_name_the_variable() {
        for (k, v) in [
            (ENV_TB_SIZE, "0"),
            (ENV_TB_SIZE, "2048"),
            (ENV_TB_SIZE, "32M"),
            (ENV_MALLOC, "jemalloc"),
            (ENV_REPORTING_ORDER, "11"),
            (ENV_REPORTING_ORDER, "-1"),
            (ENV_HUGE_PAGES, "yes"),
        ] {
            match from(&[(k, v)]) {
                Err(MachineError::InvalidConfig { field, message }) => {
                    assert_eq!(field, k);
                    assert!(message.contains(v), "{message}");
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
    }

    #[test]
    fn malloc_environment_only_for_glibc_hosts() {
        let t = QemuTuning { malloc: Malloc::Tuned, ..QemuTuning::default() };
        let env = t.qemu_env(HostOs::Linux);
        assert_eq!(
            env,
            vec![("MALLOC_ARENA_MAX", "1"), ("MALLOC_TRIM_THRESHOLD_", "131072"), ("MALLOC_MMAP_THRESHOLD_", "131072")]
        );
        assert!(t.qemu_env(HostOs::MacOs).is_empty());
        assert!(t.qemu_env(HostOs::Windows).is_empty());
    }

    #[test]
    fn describes_itself() {
        let t = QemuTuning {
            tcg_tb_size_mib: 16,
            malloc: Malloc::Glibc,
            page_reporting_order: Some(3),
            host_huge_pages: true,
        };
        assert_eq!(t.describe(), "tb-size=16 MiB, glibc's malloc defaults, host THP on, page reporting order 3");
    }
}
