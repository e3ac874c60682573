// The app's look and language, from the saved settings (applied again when Settings are saved).
import type { SettingsForm } from '../bindings/SettingsForm';
import type { Theme } from '../bindings/Theme';
import { locale } from '../i18n/index.svelte';

class Prefs {
  theme = $state<Theme>('system');

  /** Applies what the settings say about the app itself. */
  apply(form: SettingsForm) {
    this.theme = form.theme;
    locale.apply(form.language);
  }
}

export const prefs = new Prefs();
