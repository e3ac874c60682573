//! The Virtualization.framework part (macOS): the configuration's objects, the virtual machine
//! on its own serial dispatch queue, the engine relay and the stop. Every framework call is
//! `unsafe` (FFI); each object is used only on the queue the framework requires.
#![allow(unsafe_code)]

use std::io::BufRead;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use block2::RcBlock;
use dispatch2::{DispatchQueue, DispatchRetained};
use objc2::AllocAnyThread;
use objc2::rc::Retained;
use objc2_foundation::{NSArray, NSError, NSFileHandle, NSString, NSURL};
use objc2_virtualization::*;

use crate::config::VzConfig;
use crate::protocol::{self, Command};

/// How long the guest gets to power off after a stop request before it is stopped.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A framework object handed to a closure that runs on the VM's queue.
struct OnQueue<T>(T);
// SAFETY: the wrapped objects are only touched inside closures submitted to the VM's serial
// queue, which the framework requires for every call on the virtual machine.
unsafe impl<T> Send for OnQueue<T> {}

fn url(path: &Path) -> Retained<NSURL> {
    NSURL::fileURLWithPath(&NSString::from_str(&path.to_string_lossy()))
}

fn ns_error(what: &str, e: &NSError) -> String {
    format!("{what}: {}", e.localizedDescription())
}

/// Builds and validates the framework's configuration.
fn configuration(cfg: &VzConfig) -> Result<Retained<VZVirtualMachineConfiguration>, String> {
    let cmdline = cfg.kernel_cmdline().map_err(|e| e.to_string())?;
    // SAFETY: plain object construction and setters on this thread, before the VM exists.
    unsafe {
        let boot = VZLinuxBootLoader::initWithKernelURL(VZLinuxBootLoader::alloc(), &url(&cfg.kernel));
        boot.setInitialRamdiskURL(Some(&url(&cfg.initrd)));
        boot.setCommandLine(&NSString::from_str(&cmdline));

        let disk = |path: &Path, read_only: bool| -> Result<Retained<VZStorageDeviceConfiguration>, String> {
            let attachment = VZDiskImageStorageDeviceAttachment::initWithURL_readOnly_error(
                VZDiskImageStorageDeviceAttachment::alloc(),
                &url(path),
                read_only,
            )
            .map_err(|e| ns_error(&format!("disk {}", path.display()), &e))?;
            let device = VZVirtioBlockDeviceConfiguration::initWithAttachment(
                VZVirtioBlockDeviceConfiguration::alloc(),
                &attachment,
            );
            Ok(Retained::into_super(device))
        };
        let disks = [disk(&cfg.root_image, true)?, disk(&cfg.data_disk, false)?];

        let network = VZVirtioNetworkDeviceConfiguration::new();
        network.setAttachment(Some(&VZNATNetworkDeviceAttachment::new()));

        let mut shares = Vec::new();
        for share in &cfg.shares {
            let dir = VZSharedDirectory::initWithURL_readOnly(
                VZSharedDirectory::alloc(),
                &url(&share.host_path),
                share.read_only,
            );
            let single = VZSingleDirectoryShare::initWithDirectory(VZSingleDirectoryShare::alloc(), &dir);
            let device = VZVirtioFileSystemDeviceConfiguration::initWithTag(
                VZVirtioFileSystemDeviceConfiguration::alloc(),
                &NSString::from_str(&share.tag),
            );
            device.setShare(Some(&single));
            shares.push(Retained::into_super(device));
        }

        // hvc0: the console, appended to the log; hvc1: the guest settings, read once
        let console_file = VZFileSerialPortAttachment::initWithURL_append_error(
            VZFileSerialPortAttachment::alloc(),
            &url(&cfg.console_log),
            true,
        )
        .map_err(|e| ns_error("console log", &e))?;
        let console = VZVirtioConsoleDeviceSerialPortConfiguration::new();
        console.setAttachment(Some(&console_file));
        let settings_path = NSString::from_str(&cfg.guest_settings.to_string_lossy());
        let settings_file = NSFileHandle::fileHandleForReadingAtPath(&settings_path)
            .ok_or_else(|| format!("cannot read the guest settings {}", cfg.guest_settings.display()))?;
        let settings = VZVirtioConsoleDeviceSerialPortConfiguration::new();
        settings.setAttachment(Some(
            &VZFileHandleSerialPortAttachment::initWithFileHandleForReading_fileHandleForWriting(
                VZFileHandleSerialPortAttachment::alloc(),
                Some(&settings_file),
                None,
            ),
        ));

        let config = VZVirtualMachineConfiguration::new();
        config.setCPUCount(cfg.cpus as usize);
        config.setMemorySize(cfg.memory_mib * 1024 * 1024);
        config.setBootLoader(Some(&boot));
        config.setStorageDevices(&NSArray::from_retained_slice(&disks));
        config.setNetworkDevices(&NSArray::from_retained_slice(&[Retained::into_super(network)]));
        config.setDirectorySharingDevices(&NSArray::from_retained_slice(&shares));
        config.setSocketDevices(&NSArray::from_retained_slice(&[Retained::into_super(
            VZVirtioSocketDeviceConfiguration::new(),
        )]));
        config.setSerialPorts(&NSArray::from_retained_slice(&[
            Retained::into_super(console),
            Retained::into_super(settings),
        ]));
        config.setEntropyDevices(&NSArray::from_retained_slice(&[Retained::into_super(
            VZVirtioEntropyDeviceConfiguration::new(),
        )]));
        config.setMemoryBalloonDevices(&NSArray::from_retained_slice(&[Retained::into_super(
            VZVirtioTraditionalMemoryBalloonDeviceConfiguration::new(),
        )]));
        config.validateWithError().map_err(|e| ns_error("the configuration", &e))?;
        Ok(config)
    }
}

/// Runs `f` on the VM's queue and waits for its result.
fn on_queue<R: Send + 'static>(
    queue: &DispatchQueue,
    vm: &Retained<VZVirtualMachine>,
    f: impl FnOnce(&VZVirtualMachine) -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    let vm = OnQueue(vm.clone());
    queue.exec_sync(move || {
        let vm = vm;
        let _ = tx.send(f(&vm.0));
    });
    // exec_sync has returned: the closure ran
    rx.recv().unwrap_or_else(|_| unreachable!("exec_sync runs its closure before returning"))
}

/// Completion handler sending `Ok` or the error's text.
fn completion(what: &'static str, tx: mpsc::Sender<Result<(), String>>) -> RcBlock<dyn Fn(*mut NSError)> {
    RcBlock::new(move |error: *mut NSError| {
        // SAFETY: the framework passes nil or a valid NSError for the duration of the call.
        let result = match unsafe { error.as_ref() } {
            None => Ok(()),
            Some(e) => Err(ns_error(what, e)),
        };
        let _ = tx.send(result);
    })
}

/// Boots `cfg`, serves the engine relay, and returns once the virtual machine has stopped.
pub fn run(cfg: &VzConfig) -> Result<(), String> {
    // SAFETY: a class method without arguments.
    if !unsafe { VZVirtualMachine::isSupported() } {
        return Err("this Mac does not support virtualization (or the process lacks the entitlement)".into());
    }
    let config = configuration(cfg)?;
    let queue: DispatchRetained<DispatchQueue> = DispatchQueue::new("dev.gantry.vz", None);
    // SAFETY: a valid configuration and a serial queue, as the initializer requires.
    let vm = unsafe { VZVirtualMachine::initWithConfiguration_queue(VZVirtualMachine::alloc(), &config, &queue) };

    let (tx, rx) = mpsc::channel();
    on_queue(&queue, &vm, move |vm| {
        // SAFETY: on the VM's queue.
        unsafe { vm.startWithCompletionHandler(&completion("start", tx)) };
    });
    rx.recv().map_err(|_| "the start never completed".to_owned())??;
    println!("{}", protocol::STARTED);

    let listener = bind_owner_only(&cfg.engine_socket)?;
    let (port, relay_queue, relay_vm) = (cfg.engine_vsock_port, queue.clone(), OnQueue(vm.clone()));
    std::thread::spawn(move || {
        // (the VM is only retained here; every call on it goes through its queue)
        let relay_vm = relay_vm;
        for client in listener.incoming().flatten() {
            match connect_vsock(&relay_queue, &relay_vm.0, port) {
                Ok(guest) => relay(client, guest),
                Err(e) => println!("{}engine relay: {e}", protocol::ERROR),
            }
        }
    });

    // the agent's commands; the end of input is a stop
    let (commands, incoming) = mpsc::channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        loop {
            let line = lines.next().and_then(Result::ok);
            let end = line.is_none();
            let _ = commands.send(protocol::parse_command(line.as_deref()));
            if end {
                break;
            }
        }
    });

    let mut stop_requested: Option<Instant> = None;
    loop {
        let state = on_queue(&queue, &vm, |vm| {
            // SAFETY: on the VM's queue.
            unsafe { vm.state() }
        });
        if state == VZVirtualMachineState::Stopped || state == VZVirtualMachineState::Error {
            break;
        }
        match incoming.recv_timeout(Duration::from_millis(250)) {
            Ok(Ok(Command::Stop)) if stop_requested.is_none() => {
                stop_requested = Some(Instant::now());
                let asked = on_queue(&queue, &vm, |vm| {
                    // SAFETY: on the VM's queue.
                    unsafe { vm.requestStopWithError() }.map_err(|e| ns_error("stop", &e))
                });
                if let Err(e) = asked {
                    println!("{}{e}", protocol::ERROR);
                    force_stop(&queue, &vm);
                }
            }
            Ok(Ok(Command::Kill)) => force_stop(&queue, &vm),
            Ok(Err(e)) => println!("{}{e}", protocol::ERROR),
            _ => {}
        }
        if stop_requested.is_some_and(|t| t.elapsed() > STOP_GRACE) {
            force_stop(&queue, &vm);
        }
    }
    let _ = std::fs::remove_file(&cfg.engine_socket);
    println!("{}", protocol::STOPPED);
    Ok(())
}

fn force_stop(queue: &DispatchQueue, vm: &Retained<VZVirtualMachine>) {
    let (tx, rx) = mpsc::channel();
    on_queue(queue, vm, move |vm| {
        // SAFETY: on the VM's queue.
        unsafe { vm.stopWithCompletionHandler(&completion("stop", tx)) }
    });
    if let Ok(Err(e)) = rx.recv_timeout(Duration::from_secs(10)) {
        println!("{}{e}", protocol::ERROR);
    }
}

/// The engine relay's socket, owner-only from the start (umask), a stale one replaced.
fn bind_owner_only(path: &Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    if UnixStream::connect(path).is_ok() {
        return Err(format!("{} is served by another process", path.display()));
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| format!("bind {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    Ok(listener)
}

/// A connection to the guest's virtio-socket `port`, as a socket this process owns.
fn connect_vsock(queue: &DispatchQueue, vm: &Retained<VZVirtualMachine>, port: u32) -> Result<UnixStream, String> {
    let (tx, rx) = mpsc::channel::<Result<OwnedFd, String>>();
    on_queue(queue, vm, move |vm| {
        // SAFETY: on the VM's queue; the configuration has exactly one virtio socket device.
        unsafe {
            let Some(device) = vm.socketDevices().firstObject() else {
                let _ = tx.send(Err("no virtio socket device".into()));
                return;
            };
            let Ok(device) = device.downcast::<VZVirtioSocketDevice>() else {
                let _ = tx.send(Err("the socket device is not a virtio one".into()));
                return;
            };
            let handler = RcBlock::new(move |connection: *mut VZVirtioSocketConnection, error: *mut NSError| {
                // SAFETY: nil or valid objects for the duration of the call; the descriptor is
                // duplicated before the connection (which closes its own) goes away.
                let result = match (connection.as_ref(), error.as_ref()) {
                    (Some(c), _) => {
                        BorrowedFd::borrow_raw(c.fileDescriptor()).try_clone_to_owned().map_err(|e| format!("dup: {e}"))
                    }
                    (None, Some(e)) => Err(ns_error("vsock connect", e)),
                    (None, None) => Err("vsock connect failed".into()),
                };
                let _ = tx.send(result);
            });
            device.connectToPort_completionHandler(port, &handler);
        }
    });
    let fd = rx.recv_timeout(Duration::from_secs(10)).map_err(|_| "vsock connect timed out".to_owned())??;
    Ok(UnixStream::from(fd))
}

/// Copies both ways until either side closes.
fn relay(client: UnixStream, guest: UnixStream) {
    let (Ok(client2), Ok(guest2)) = (client.try_clone(), guest.try_clone()) else { return };
    let pump = |mut from: UnixStream, mut to: UnixStream| {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        })
    };
    pump(client, guest2);
    pump(guest, client2);
}
