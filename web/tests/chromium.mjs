// How the browser tests launch Debian's chromium (or CHROMIUM): no sandbox (root in a container),
// and no background traffic to Google's services, which would only be refused offline.

export const LAUNCH = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};
