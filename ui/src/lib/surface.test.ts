// The UI reaches the core only through the generated, typed command functions (commands.ts):
// no other file calls the IPC by a command's name.
import { describe, expect, it } from 'vitest';

const SOURCES = import.meta.glob<string>(['../**/*.ts', '../**/*.svelte', '!../**/*.test.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
});

describe('the command surface', () => {
  it('sees the sources', () => {
    expect(Object.keys(SOURCES)).toContain('../App.svelte');
    expect(Object.keys(SOURCES)).toContain('./commands.ts');
  });
  it('only commands.ts and ipc.ts touch the IPC', () => {
    const ipc = /@tauri-apps\/api|\binvoke\s*\(|import\s*\{[^}]*\b(call|stream)\b[^}]*\}\s*from\s*'[^']*ipc'/;
    const offenders = Object.entries(SOURCES)
      .filter(([path]) => path !== './commands.ts' && path !== './ipc.ts')
      .filter(([, text]) => ipc.test(text))
      .map(([path]) => path);
    expect(offenders).toEqual([]);
  });
});
