// A real browser for end-to-end checks: Debian's Chromium driven by playwright-core.
import { type Browser, chromium } from "playwright-core";

export const chromiumPath = process.env.FLOTILLA_TEST_CHROMIUM ?? "/usr/bin/chromium";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
