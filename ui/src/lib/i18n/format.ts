// Message lookup and formatting for the UI's languages: `{name}` placeholders, plural forms chosen
// by Intl.PluralRules (Russian has one / few / many), a fallback to English for a missing key.
// Pure functions; the reactive current language is in index.svelte.ts.

/** A message with plural forms, chosen by the `n` parameter. */
export interface Plural {
  one: string;
  few?: string;
  many?: string;
  other: string;
}

export type Message = string | Plural;
export type Params = Record<string, string | number>;

/** The plural form of `n` in `lang` (`one`, `few`, `many` or `other`). */
export function pluralForm(lang: string, n: number, forms: Plural): string {
  const rule = new Intl.PluralRules(lang).select(n) as keyof Plural;
  return forms[rule] ?? forms.other;
}

/** Fills `{name}` placeholders; a message with plural forms uses `params.n`, which is also written
 * with the language's digit grouping (100,000 / 100 000). */
export function render(lang: string, message: Message, params: Params = {}): string {
  const text = typeof message === 'string' ? message : pluralForm(lang, Number(params.n ?? 0), message);
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    if (!(name in params)) return whole;
    const value = params[name];
    return name === 'n' && typeof value === 'number' ? new Intl.NumberFormat(lang).format(value) : String(value);
  });
}

/** The first of the user's preferred languages (`navigator.languages`) that the UI speaks. */
export function preferredLang<L extends string>(preferred: readonly string[], spoken: readonly L[], fallback: L): L {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split(/[-_]/)[0];
    const hit = spoken.find((l) => l === base);
    if (hit) return hit;
  }
  return fallback;
}

/** Splits text with `**bold**` and `` `code` `` marks into parts, so a translation can emphasise
 * words without any HTML (the Rich component renders the parts as elements). */
export function richParts(text: string): { text: string; kind: 'text' | 'bold' | 'code' }[] {
  const parts: { text: string; kind: 'text' | 'bold' | 'code' }[] = [];
  const re = /\*\*(.+?)\*\*|`(.+?)`/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push({ text: text.slice(last, m.index), kind: 'text' });
    parts.push(m[1] !== undefined ? { text: m[1], kind: 'bold' } : { text: m[2], kind: 'code' });
    last = re.lastIndex;
  }
  if (last < text.length) parts.push({ text: text.slice(last), kind: 'text' });
  return parts;
}
