// The UI's languages: every user-visible string is `t('key', params)`, looked up in the current
// language's catalog (en.ts, ru.ts). The language follows the system's until the user picks one
// in Settings (saved in settings.json).
//
// Adding a string: a key in en.ts (the reference catalog) and the same key in ru.ts (svelte-check
// and i18n.test.ts fail without it), then `t('key')` in the component.
import type { Language } from '../bindings/Language';
import { en } from './en';
import { preferredLang, render, type Message, type Params } from './format';
import { ru } from './ru';

export type Key = keyof typeof en;
/** A catalog has every key of the English one, and no other. */
export type Catalog = Record<Key, Message>;
export type Lang = 'en' | 'ru';

export const LANGS: readonly Lang[] = ['en', 'ru'];
export const CATALOGS: Record<Lang, Catalog> = { en, ru };

function systemLang(): Lang {
  const preferred = typeof navigator === 'undefined' ? [] : navigator.languages ?? [navigator.language];
  return preferredLang(preferred, LANGS, 'en');
}

class Locale {
  /** The language shown now. */
  lang = $state<Lang>(systemLang());

  constructor() {
    if (typeof document !== 'undefined') document.documentElement.lang = this.lang;
  }

  /** Applies the saved choice (`system` follows the system's language). */
  apply(choice: Language) {
    this.lang = choice === 'system' ? systemLang() : choice;
    if (typeof document !== 'undefined') document.documentElement.lang = this.lang;
  }
}

export const locale = new Locale();

/** The message `key` in the current language, with `{name}` placeholders filled from `params`. */
export function t(key: Key, params?: Params): string {
  return render(locale.lang, CATALOGS[locale.lang][key] ?? en[key], params);
}
