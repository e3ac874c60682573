// The window's Content Security Policy (src-tauri/tauri.conf.json) allows only the app's own
// code and the IPC: no plugins, no <base> rewriting, no form posts elsewhere, no framing.
import { describe, expect, it } from 'vitest';
import conf from '../../../src-tauri/tauri.conf.json';

function directives(csp: string): Map<string, string> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name, values.join(' ')]),
  );
}

describe('the content security policy', () => {
  const csp = directives(conf.app.security.csp);
  it('closes what default-src does not cover', () => {
    expect(csp.get('object-src')).toBe("'none'");
    expect(csp.get('base-uri')).toBe("'none'");
    expect(csp.get('form-action')).toBe("'none'");
    expect(csp.get('frame-ancestors')).toBe("'none'");
  });
  it('loads code only from the app itself', () => {
    expect(csp.get('default-src')).toBe("'self'");
    expect(csp.get('script-src') ?? "'self'").toBe("'self'");
    expect(csp.get('connect-src')).toBe('ipc: http://ipc.localhost');
  });
});
