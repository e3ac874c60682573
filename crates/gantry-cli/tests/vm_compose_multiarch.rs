//! The Docker Desktop habits a user brings, against the real guest VM through Gantry's socket with
//! the user's own docker CLI: `docker compose` (v2), `docker buildx`, and images of another CPU
//! architecture (linux/arm64 under QEMU's user-mode emulation, registered by the guest's init).
//!
//! Runs only with `GANTRY_VM_TESTS=1` (./scripts/test sets it once the guest image is built).
//! Prerequisites, installed by ./scripts/test: the guest image, QEMU, the docker CLI with the
//! compose and buildx plugins, Debian's `busybox-static` (`/bin/busybox`) and its arm64 build
//! (`GANTRY_TEST_ARM64_BUSYBOX`, scripts/lib/fixtures.sh). One VM boot serves every scenario.
#![cfg(unix)] // the VM tests drive QEMU and the agent on Linux
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gantry_testkit::bounded::step;
use gantry_testkit::images::busybox_rootfs_tar;
use gantry_testkit::net::{free_port, http_get};
use gantry_testkit::vm::{TestVm, text};

/// The whole test (a watchdog ends the process after it, printing the step and the logs).
const TEST_BOUND: Duration = Duration::from_secs(20 * 60);

fn arm64_busybox() -> PathBuf {
    let p = std::env::var_os("GANTRY_TEST_ARM64_BUSYBOX").map(PathBuf::from).expect(
        "GANTRY_TEST_ARM64_BUSYBOX is not set: ./scripts/test fetches Debian's arm64 busybox-static \
         (scripts/lib/fixtures.sh, gantry_fixture_arm64_busybox)",
    );
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

#[test]
fn compose_buildx_and_other_architectures_through_gantry() {
    if std::env::var("GANTRY_VM_TESTS").ok().as_deref() != Some("1") {
        gantry_testkit::skip::skipped(
            "compose_buildx_and_other_architectures_through_gantry",
            "set GANTRY_VM_TESTS=1 (needs the guest image, QEMU, docker with compose and buildx)",
        );
        return;
    }
    let arm64 = arm64_busybox();
    let vm = TestVm::new(Path::new(env!("CARGO_BIN_EXE_gantry")), "gvmc", None).unwrap();
    let test = "compose_buildx_and_other_architectures_through_gantry";
    let _watchdog = vm.watchdog(test, TEST_BOUND);
    let started = Instant::now();
    step("boot");
    let out = vm.gantry(&["start"]);
    assert!(out.status.success(), "gantry start failed: {}", text(&out));
    eprintln!("VM up in {:.0} s", started.elapsed().as_secs_f64());

    step("import amd64 and arm64 busybox images");
    let dir = vm.share();
    let dir = dir.as_path();
    let amd64_tar = busybox_rootfs_tar(dir, "busybox-amd64", Path::new("/bin/busybox")).unwrap();
    let arm64_tar = busybox_rootfs_tar(dir, "busybox-arm64", &arm64).unwrap();
    vm.docker_ok(&["import", "--platform", "linux/amd64", amd64_tar.to_str().unwrap(), "gantry-test/busybox:amd64"]);
    vm.docker_ok(&["import", "--platform", "linux/arm64", arm64_tar.to_str().unwrap(), "gantry-test/busybox:arm64"]);

    step("other_architecture");
    other_architecture(&vm);
    step("compose_stack");
    compose_stack(&vm);
    // an emulated arm64 build step takes minutes under software emulation
    if std::env::var("GANTRY_VM_SLOW_TESTS").ok().as_deref() == Some("1") {
        step("buildx_multi_platform");
        buildx_multi_platform(&vm);
    } else {
        gantry_testkit::skip::skipped(
            "compose_buildx_and_other_architectures_through_gantry: buildx multi-platform build",
            "slow under emulation: set GANTRY_VM_SLOW_TESTS=1",
        );
    }
    step("");
    eprintln!("all scenarios passed in {:.0} s", started.elapsed().as_secs_f64());
}

/// `docker run --platform linux/arm64` runs an arm64 program (emulated): `uname -m` says aarch64.
fn other_architecture(vm: &TestVm) {
    let machine =
        vm.docker_ok(&["run", "--rm", "--platform", "linux/arm64", "gantry-test/busybox:arm64", "uname", "-m"]);
    assert_eq!(machine, "aarch64");
    let arch =
        vm.docker_ok(&["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "gantry-test/busybox:arm64"]);
    assert_eq!(arch, "linux/arm64");
    // the host's own architecture still runs natively
    assert_eq!(vm.docker_ok(&["run", "--rm", "gantry-test/busybox:amd64", "uname", "-m"]), "x86_64");
    eprintln!("scenario other_architecture: ok");
}

/// A two-service project with a named volume, a network and a published port: up, reach the port,
/// exec by service name, down (volume kept), up (data still there), down -v (volume gone).
fn compose_stack(vm: &TestVm) {
    let project = vm.share().join("shop");
    std::fs::create_dir_all(&project).unwrap();
    let port = free_port().unwrap();
    std::fs::write(
        project.join("compose.yaml"),
        format!(
            r#"name: shop
services:
  web:
    image: gantry-test/busybox:amd64
    command: ["httpd", "-f", "-p", "8080", "-h", "/site"]
    volumes: ["site:/site"]
    ports: ["127.0.0.1:{port}:8080"]
    networks: [back]
  worker:
    image: gantry-test/busybox:amd64
    command: ["sleep", "3600"]
    volumes: ["site:/site"]
    networks: [back]
volumes:
  site: {{}}
networks:
  back: {{}}
"#
        ),
    )
    .unwrap();
    let compose = |args: &[&str]| {
        let mut all = vec!["compose"];
        all.extend_from_slice(args);
        vm.docker_ok_in(&project, &all)
    };

    let version = compose(&["version", "--short"]);
    assert!(version.starts_with('2'), "compose v2 expected, got {version}");
    compose(&["up", "-d"]);
    // exec by service name: write the page into the named volume
    compose(&["exec", "-T", "worker", "sh", "-c", "echo first-run > /site/index.html"]);
    let page = http_get(port, "/index.html", Duration::from_secs(60)).unwrap();
    assert_eq!((page.status, page.body.trim()), (200, "first-run"), "through the published port");
    // the project network resolves the other service by name
    let over_network = compose(&["exec", "-T", "worker", "wget", "-q", "-O", "-", "http://web:8080/index.html"]);
    assert_eq!(over_network, "first-run");
    let ps = compose(&["ps", "--services", "--status", "running"]);
    assert_eq!(ps.lines().collect::<Vec<_>>(), ["web", "worker"]);

    compose(&["down"]);
    assert_eq!(
        vm.docker_ok(&["volume", "ls", "-q", "--filter", "name=shop_site"]),
        "shop_site",
        "down keeps the volume"
    );
    assert!(vm.docker_ok(&["ps", "-aq", "--filter", "label=com.docker.compose.project=shop"]).is_empty());

    compose(&["up", "-d"]);
    let page = http_get(port, "/index.html", Duration::from_secs(60)).unwrap();
    assert_eq!((page.status, page.body.trim()), (200, "first-run"), "the volume's data after down and up");

    compose(&["down", "-v"]);
    assert!(vm.docker_ok(&["volume", "ls", "-q", "--filter", "name=shop_site"]).is_empty(), "down -v removes it");
    assert!(vm.docker_ok(&["network", "ls", "-q", "--filter", "name=shop_back"]).is_empty());
    eprintln!("scenario compose_stack: ok");
}

/// `docker buildx build --platform linux/amd64,linux/arm64`: one image for both, each variant's
/// RUN step executed on its own architecture (arm64 emulated).
fn buildx_multi_platform(vm: &TestVm) {
    let ctx = vm.share().join("multi");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM gantry-test/busybox:$TARGETARCH\nARG TARGETARCH\nRUN uname -m > /built-on\nCMD [\"cat\", \"/built-on\"]\n",
    )
    .unwrap();
    let version = vm.docker_ok(&["buildx", "version"]);
    assert!(version.contains("buildx"), "{version}");
    vm.docker_ok_in(
        &ctx,
        &["buildx", "build", "--platform", "linux/amd64,linux/arm64", "--tag", "gantry-test/multi:1", "--load", "."],
    );
    let arm = vm.docker_ok(&["run", "--rm", "--platform", "linux/arm64", "gantry-test/multi:1"]);
    assert_eq!(arm, "aarch64");
    let amd = vm.docker_ok(&["run", "--rm", "--platform", "linux/amd64", "gantry-test/multi:1"]);
    assert_eq!(amd, "x86_64");
    eprintln!("scenario buildx_multi_platform: ok");
}
