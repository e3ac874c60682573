//! The Settings panel's form: what a person types, converted to [`Settings`] and validated by
//! the settings module (the only place with the rules). Choices (engine source, theme, language)
//! are the settings model's own enums.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::{ApiError, FieldError};
use crate::settings::{EngineSource, HostFacts, Language, RegistryLogin, Settings, Theme, UiSettings, VmSettings};
use gantry_machine::engine_config::RegistryMirror;
use gantry_machine::shares::SharedFolder;

/// A registry login as shown in the form (the password is never stored here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RegistryEntry {
    pub server: String,
    pub username: String,
}

impl From<&RegistryLogin> for RegistryEntry {
    fn from(r: &RegistryLogin) -> Self {
        Self { server: r.server.clone(), username: r.username.clone() }
    }
}

/// A shared folder as the form edits it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SharedFolderEntry {
    pub path: String,
    /// Containers may read it but never change it.
    pub read_only: bool,
}

/// A registry mirror of the VM's engine as the form shows it (set by joining a workshop room).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RegistryMirrorEntry {
    /// `https://HOST[:PORT]`.
    pub url: String,
    /// The certificate the mirror is trusted with (PEM), pinned by a workshop's join code.
    pub ca_pem: Option<String>,
}

/// Every setting, as the Settings panel edits it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct SettingsForm {
    /// Gantry's VM, or an existing engine (`unix:///var/run/docker.sock`, `tcp://host:2376`).
    pub engine: EngineSource,
    /// Allow a plaintext `tcp://` engine on another machine.
    pub allow_plaintext_tcp: bool,
    pub cpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub shared_folders: Vec<SharedFolderEntry>,
    pub port_bind_address: String,
    pub theme: Theme,
    pub language: Language,
    pub start_at_login: bool,
    /// A terminal in the app: it runs your shell on this computer (off by default).
    pub host_terminal: bool,
    pub registries: Vec<RegistryEntry>,
    /// The VM engine's registry mirrors (taken on at the VM's next start).
    pub registry_mirrors: Vec<RegistryMirrorEntry>,
    /// Stopping saves the VM and the next start resumes it (a form without it: on).
    #[serde(default = "save_on_stop_default")]
    pub save_on_stop: bool,
}

fn save_on_stop_default() -> bool {
    VmSettings::default().save_on_stop
}

/// The form plus the facts it is checked against.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsView {
    pub form: SettingsForm,
    pub host_cpus: u32,
    pub host_memory_mib: u64,
    pub host_free_disk_gib: u64,
    /// Where the settings file is.
    pub path: String,
}

/// What saving changed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SaveOutcome {
    /// The VM must restart for the change to take effect.
    pub needs_vm_restart: bool,
    /// The engine source changed; the app reconnected.
    pub engine_changed: bool,
}

impl From<&Settings> for SettingsForm {
    fn from(s: &Settings) -> Self {
        Self {
            engine: s.engine.clone(),
            allow_plaintext_tcp: s.allow_plaintext_tcp,
            cpus: s.vm.cpus,
            memory_mib: s.vm.memory_mib,
            disk_gib: s.vm.disk_gib,
            shared_folders: s
                .vm
                .shared_folders
                .iter()
                .map(|f| SharedFolderEntry { path: f.path.display().to_string(), read_only: f.read_only })
                .collect(),
            port_bind_address: s.vm.port_bind_address.to_string(),
            theme: s.ui.theme,
            language: s.ui.language,
            start_at_login: s.ui.start_at_login,
            host_terminal: s.ui.host_terminal,
            registries: s.registries.iter().map(RegistryEntry::from).collect(),
            registry_mirrors: s
                .vm
                .registry_mirrors
                .iter()
                .map(|m| RegistryMirrorEntry { url: m.url.clone(), ca_pem: m.ca_pem.clone() })
                .collect(),
            save_on_stop: s.vm.save_on_stop,
        }
    }
}

impl SettingsForm {
    /// Converts to settings; text that cannot even be parsed is reported per field, then the
    /// settings' own rules are checked against `host`.
    pub fn to_settings(&self, host: &HostFacts) -> Result<Settings, ApiError> {
        let mut errs = Vec::new();
        let port_bind_address = match self.port_bind_address.trim().parse::<IpAddr>() {
            Ok(a) => a,
            Err(_) => {
                errs.push(FieldError {
                    field: "vm.port_bind_address".into(),
                    message: format!("{:?} is not an IP address", self.port_bind_address),
                    hint: "use 127.0.0.1 (this computer only) or 0.0.0.0 (every network)".into(),
                });
                VmSettings::default().port_bind_address
            }
        };
        let settings = Settings {
            engine: match &self.engine {
                EngineSource::GantryVm => EngineSource::GantryVm,
                EngineSource::Existing { endpoint } => EngineSource::Existing { endpoint: endpoint.trim().to_string() },
                EngineSource::Context { name } => EngineSource::Context { name: name.trim().to_string() },
            },
            allow_plaintext_tcp: self.allow_plaintext_tcp,
            vm: VmSettings {
                cpus: self.cpus,
                memory_mib: self.memory_mib,
                disk_gib: self.disk_gib,
                shared_folders: self
                    .shared_folders
                    .iter()
                    .filter(|f| !f.path.trim().is_empty())
                    .map(|f| SharedFolder { path: PathBuf::from(f.path.trim()), read_only: f.read_only })
                    .collect(),
                port_bind_address,
                registry_mirrors: self
                    .registry_mirrors
                    .iter()
                    .filter(|m| !m.url.trim().is_empty())
                    .map(|m| RegistryMirror {
                        url: m.url.trim().to_string(),
                        ca_pem: m.ca_pem.clone().filter(|p| !p.trim().is_empty()),
                    })
                    .collect(),
                save_on_stop: self.save_on_stop,
            },
            ui: UiSettings {
                theme: self.theme,
                language: self.language,
                start_at_login: self.start_at_login,
                host_terminal: self.host_terminal,
            },
            registries: self
                .registries
                .iter()
                .map(|r| RegistryLogin { server: r.server.trim().to_string(), username: r.username.trim().to_string() })
                .collect(),
        };
        if let Err(rule_errs) = settings.validate(host) {
            errs.extend(rule_errs.into_iter().map(FieldError::from));
        }
        if errs.is_empty() { Ok(settings) } else { Err(ApiError::invalid(errs)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts { cpus: 4, memory_mib: 8192, free_disk_gib: 100 }
    }

    #[test]
    fn round_trips_defaults() -> Result<(), ApiError> {
        let s =
            Settings { vm: VmSettings { shared_folders: Vec::new(), ..VmSettings::default() }, ..Settings::default() };
        let form = SettingsForm::from(&s);
        assert_eq!(form.to_settings(&host())?, s);
        Ok(())
    }

    #[test]
    fn save_on_stop_round_trips_and_a_form_without_it_keeps_it_on() -> Result<(), Box<dyn std::error::Error>> {
        let s = Settings {
            vm: VmSettings { shared_folders: Vec::new(), save_on_stop: false, ..VmSettings::default() },
            ..Settings::default()
        };
        let form = SettingsForm::from(&s);
        assert!(!form.save_on_stop);
        assert_eq!(form.to_settings(&host())?, s);
        // A form from a UI that does not know the setting.
        let mut json = serde_json::to_value(&form)?;
        if let Some(o) = json.as_object_mut() {
            o.remove("save_on_stop");
        }
        let older: SettingsForm = serde_json::from_value(json)?;
        assert!(older.save_on_stop);
        Ok(())
    }

    #[test]
    fn reports_memory_above_host_and_bad_address() {
        let s =
            Settings { vm: VmSettings { shared_folders: Vec::new(), ..VmSettings::default() }, ..Settings::default() };
        let mut form = SettingsForm::from(&s);
        form.memory_mib = 999_999;
        form.port_bind_address = "not-an-ip".into();
        let Err(err) = form.to_settings(&host()) else { panic!("should fail") };
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"vm.memory_mib"), "{fields:?}");
        assert!(fields.contains(&"vm.port_bind_address"), "{fields:?}");
    }
}
