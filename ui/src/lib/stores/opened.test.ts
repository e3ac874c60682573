import { describe, expect, it } from 'vitest';
import { nav } from './nav.svelte';
import { opened } from './opened.svelte';
import { toasts } from './toasts.svelte';

describe('bundles opened with the app', () => {
  it('a bundle opens the Workshops panel and asks it to import, each time it is opened', () => {
    nav.go('dashboard');
    opened.receive([{ path: '/home/me/docker-101.gantry-workshop', error: null }]);
    expect(nav.panel).toBe('workshops');
    const first = opened.request;
    expect(first?.path).toBe('/home/me/docker-101.gantry-workshop');
    opened.receive([{ path: '/home/me/docker-101.gantry-workshop', error: null }]);
    expect(opened.request?.seq).not.toBe(first?.seq);
  });

  it('a file that is not a bundle is said in a toast and changes nothing else', () => {
    nav.go('images');
    const before = opened.request;
    opened.receive([
      {
        path: '/home/me/notes.txt',
        error: { code: 'invalid_name', message: '/home/me/notes.txt is not a workshop bundle', hint: 'Drop the bundle.', fields: [] },
      },
    ]);
    expect(nav.panel).toBe('images');
    expect(opened.request).toBe(before);
    expect(toasts.items.at(-1)).toMatchObject({ kind: 'error' });
    expect(toasts.items.at(-1)?.text).toContain('not a workshop bundle');
  });
});
