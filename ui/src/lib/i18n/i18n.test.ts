// The catalogs are complete in both languages, plurals and placeholders work, and no component
// shows a hard-coded user-visible string (everything goes through t()).
import { describe, expect, it } from 'vitest';
import { en } from './en';
import { preferredLang, render, richParts, type Plural } from './format';
import { ru } from './ru';

const COMPONENTS = import.meta.glob<string>(['../../**/*.svelte'], { query: '?raw', import: 'default', eager: true });

/** Text a person would read, left in a component's markup outside `{...}` expressions. */
function hardCoded(source: string): string[] {
  let markup = source
    .replace(/<script[\s\S]*?<\/script>/g, '')
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<!--[\s\S]*?-->/g, '');
  // Drop every {...} expression (nested braces included).
  let out = '';
  let depth = 0;
  for (const c of markup) {
    if (c === '{') depth++;
    else if (c === '}') depth = Math.max(0, depth - 1);
    else if (depth === 0) out += c;
  }
  markup = out;
  const words = /[A-Za-zА-Яа-яЁё]{2,}/;
  const found: string[] = [];
  for (const m of markup.matchAll(/>([^<>]+)</g)) {
    const text = m[1].replace(/&[a-z]+;/g, ' ').trim();
    if (words.test(text)) found.push(text);
  }
  for (const m of markup.matchAll(/\b(title|placeholder|aria-label|alt|label|confirmLabel)="([^"]*)"/g)) {
    if (words.test(m[2])) found.push(`${m[1]}="${m[2]}"`);
  }
  return found;
}

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const texts = (m: string | Plural) => (typeof m === 'string' ? [m] : Object.values(m).filter((v): v is string => !!v));

describe('catalogs', () => {
  it('have the same keys in English and Russian', () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
  });
  it('use the same placeholders in both languages', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      const want = placeholders(texts(en[key])[0]);
      for (const text of [...texts(en[key]), ...texts(ru[key])]) expect([key, placeholders(text)]).toEqual([key, want]);
    }
  });
  it('give Russian plurals all three forms', () => {
    for (const [key, m] of Object.entries(ru)) {
      if (typeof m !== 'string') expect([key, !!m.one && !!m.few && !!m.many && !!m.other]).toEqual([key, true]);
    }
  });
  it('leave nothing empty', () => {
    for (const [key, m] of [...Object.entries(en), ...Object.entries(ru)]) for (const text of texts(m)) expect([key, text.trim().length > 0]).toEqual([key, true]);
  });
});

describe('rendering', () => {
  it('fills placeholders and picks plural forms', () => {
    expect(render('en', en['count.containers'], { n: 1 })).toBe('1 container');
    expect(render('en', en['count.containers'], { n: 3 })).toBe('3 containers');
    expect(render('ru', ru['count.containers'], { n: 1 })).toBe('1 контейнер');
    expect(render('ru', ru['count.containers'], { n: 3 })).toBe('3 контейнера');
    expect(render('ru', ru['count.containers'], { n: 5 })).toBe('5 контейнеров');
    expect(render('ru', ru['count.containers'], { n: 21 })).toBe('21 контейнер');
    expect(render('en', en['count.lines'], { n: 100000 })).toBe('100,000 lines');
    expect(render('en', en['containers.port.open'], { url: 'http://localhost:8080', port: 8080 })).toBe('Open http://localhost:8080 (container port 8080)');
  });
  it('follows the system language when it is one of ours', () => {
    expect(preferredLang(['ru-RU', 'en-US'], ['en', 'ru'], 'en')).toBe('ru');
    expect(preferredLang(['de-DE', 'en-GB'], ['en', 'ru'], 'en')).toBe('en');
    expect(preferredLang(['fr'], ['en', 'ru'], 'en')).toBe('en');
  });
  it('turns **bold** and `code` marks into parts, never HTML', () => {
    expect(richParts('Click **Run** or `docker run <x>`.')).toEqual([
      { text: 'Click ', kind: 'text' },
      { text: 'Run', kind: 'bold' },
      { text: ' or ', kind: 'text' },
      { text: 'docker run <x>', kind: 'code' },
      { text: '.', kind: 'text' },
    ]);
  });
});

describe('components', () => {
  it('are all checked', () => {
    expect(Object.keys(COMPONENTS).length).toBeGreaterThan(15);
  });
  it('show no hard-coded text: every string goes through t()', () => {
    const left = Object.entries(COMPONENTS)
      .map(([path, source]) => [path, hardCoded(source)] as const)
      .filter(([, found]) => found.length > 0);
    expect(left).toEqual([]);
  });
  it('the check finds hard-coded text', () => {
    expect(hardCoded('<script>const a = "x";</script><p>Hello {name}</p><input placeholder="Type here" title={t("k")} />')).toEqual(['Hello', 'placeholder="Type here"']);
  });
});
