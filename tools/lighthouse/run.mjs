// Lighthouse on one page, its JSON report on stdout. A signed-in page gets the session cookie put
// in Chrome's own cookie jar first: the CLI's --extra-headers reach the navigation but not the
// page's fetch() calls, which then answer 401 and count as console errors.
//   node run.mjs URL desktop|mobile [COOKIE_NAME=VALUE]      (CHROME_PATH: the browser to launch)
import * as chromeLauncher from "chrome-launcher";
import lighthouse, { desktopConfig } from "lighthouse";
import puppeteer from "puppeteer-core";

const [url, formFactor, cookie] = process.argv.slice(2);
if (!url || !["desktop", "mobile"].includes(formFactor)) {
  console.error("usage: node run.mjs URL desktop|mobile [NAME=VALUE]");
  process.exit(2);
}
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROME_PATH,
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"],
});
let browser;
try {
  browser = await puppeteer.connect({ browserURL: `http://127.0.0.1:${chrome.port}` });
  const page = await browser.newPage();
  if (cookie) {
    const [name, ...value] = cookie.split("=");
    await browser.setCookie({ name, value: value.join("="), url });
  }
  const flags = {
    output: "json",
    logLevel: "error",
    onlyCategories: ["performance", "accessibility", "best-practices", "seo"],
    maxWaitForLoad: 30000,
    disableStorageReset: Boolean(cookie), // a storage reset would clear the cookie again
  };
  const result = await lighthouse(url, flags, formFactor === "desktop" ? desktopConfig : undefined, page);
  process.stdout.write(result.report);
} finally {
  if (browser) await browser.disconnect();
  chrome.kill();
}
