//! The Settings panel: read the settings as a form with the host facts they are checked against,
//! and save them (validated; nothing is written when a field is wrong).

use std::path::Path;

use super::error::ApiResult;
use super::settings_form::{SaveOutcome, SettingsForm, SettingsView};
use super::{Gantry, desktop};
use crate::settings::{self, HostFacts};

impl Gantry {
    pub(super) fn host_facts(&self) -> HostFacts {
        HostFacts::detect(self.settings_path.parent().unwrap_or(Path::new(".")))
    }

    /// The settings as a form, with the host facts they are checked against.
    pub async fn settings_get(&self) -> ApiResult<SettingsView> {
        let s = settings::load(&self.settings_path)?;
        let host = self.host_facts();
        Ok(SettingsView {
            form: SettingsForm::from(&s),
            host_cpus: host.cpus,
            host_memory_mib: host.memory_mib,
            host_free_disk_gib: host.free_disk_gib,
            path: self.settings_path.display().to_string(),
        })
    }

    /// Validates and saves; nothing is written when any field is wrong. The registry list is
    /// kept as it is: only [`Self::registry_login`] and [`Self::registry_logout`] change it.
    pub async fn settings_save(&self, form: SettingsForm) -> ApiResult<SaveOutcome> {
        let stored = settings::load(&self.settings_path).unwrap_or_default();
        let mut host = self.host_facts();
        // The disk size is checked against the free space only when it changes: the data disk
        // grows on demand, and space other programs used since must not block other changes.
        if form.disk_gib == stored.vm.disk_gib {
            host.free_disk_gib = 0;
        }
        let from_form = form.to_settings(&host)?;
        // one step, so a registry login saved meanwhile is kept
        let (old, new) = settings::update(&self.settings_path, &host, |s| {
            let registries = std::mem::take(&mut s.registries);
            *s = settings::Settings { registries, ..from_form };
            Ok(())
        })?;
        if old.ui.host_terminal && !new.ui.host_terminal {
            // Turned off: the terminal open now ends too.
            self.host_terminal_close();
        }
        if old.ui.start_at_login != new.ui.start_at_login {
            desktop::apply_start_at_login(new.ui.start_at_login)?;
        }
        let engine_changed = old.engine != new.engine || old.allow_plaintext_tcp != new.allow_plaintext_tcp;
        if engine_changed {
            self.streams.cancel_all();
            self.disconnect().await;
        }
        Ok(SaveOutcome { needs_vm_restart: old.needs_vm_restart(&new), engine_changed })
    }
}
