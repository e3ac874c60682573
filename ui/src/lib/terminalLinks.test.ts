import { describe, expect, it } from 'vitest';
import { terminalLinks } from './terminalLinks';

describe('terminal hyperlinks', () => {
  it('are opened by url_open only, and its refusal is shown', async () => {
    const opened: string[] = [];
    const errors: unknown[] = [];
    const links = terminalLinks(
      (url) => {
        opened.push(url);
        return url.startsWith('http://localhost:8080') ? Promise.resolve(null) : Promise.reject(new Error(`refused ${url}`));
      },
      (e) => errors.push(e),
    );
    expect(links.allowNonHttpProtocols).toBe(false);
    const event = {} as MouseEvent;
    const range = { start: { x: 1, y: 1 }, end: { x: 2, y: 1 } };
    links.activate(event, 'http://localhost:8080/', range);
    links.activate(event, 'http://localhost:80@evil.example/', range);
    await new Promise((r) => setTimeout(r, 0));
    expect(opened).toEqual(['http://localhost:8080/', 'http://localhost:80@evil.example/']);
    expect(errors.map(String)).toEqual(['Error: refused http://localhost:80@evil.example/']);
  });
});
