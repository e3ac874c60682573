// Hyperlinks a program prints in a terminal (OSC 8) go through the same check as every other link:
// the `url_open` command (published ports on this computer only), never the webview itself
// (xterm.js would otherwise ask with confirm() and open any address, `javascript:` included, in
// the app's own window).
import type { ILinkHandler } from '@xterm/xterm';

export function terminalLinks(open: (url: string) => Promise<unknown>, failed: (error: unknown) => void): ILinkHandler {
  return {
    activate: (_event, text) => {
      open(text).catch(failed);
    },
    allowNonHttpProtocols: false,
  };
}
