import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * A fake of WHM's generated chrome, shaped like the real cache that cPanel's PHP helper
 * (/usr/local/cpanel/php/WHM.php) reads and Whostmgr::Templates::Chrome writes
 * (docs/reference-notes.md, "WHM's chrome"):
 *   - `_generated_header_files/cache_keys.json`: `{ "<WHM user>": "<cache key>" }` (WHM.php
 *     json_decode()s it and reads `$cacheObj->$user`);
 *   - `_generated_header_files/<key>_<skipsupport>_<skipheader>.html`, mode 0600, rendered with the
 *     placeholders `/cpsess0000000000` (every session link), `cpuser00000000000` (the user),
 *     `Results of Your Request` (the page title) and `nonce="00000000000"` (Cpanel::CSP::Nonces::nonce
 *     stubbed while rendering, so the nonce'd inline bits carry it);
 *   - `_generated_footer_files/footer.html`, mode 0600.
 * The header loads WHM's stylesheet and script from cpsrvd by same-origin `/cpsess…` URLs (no
 * nonce on those tags), carries a nonce'd inline script and style, WHM's masthead, search form,
 * user menu and left navigation with the Plugins group; the footer closes the page and runs a
 * nonce'd inline script. The assets live under the fake docroot so a fake cpsrvd can serve them.
 */
export const WHM_CHROME_KEY = '6f1d0c2ab4e85937';
export const WHM_DOCROOT = '/usr/local/cpanel/whostmgr/docroot';
const CACHES = '/var/cpanel/caches';

function header(skipHeader: boolean): string {
  return `<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WHM - Results of Your Request</title>
<link rel="shortcut icon" href="/cpsess0000000000/fake-whm/favicon.png" type="image/png">
<link rel="stylesheet" href="/cpsess0000000000/fake-whm/chrome.css">
<style nonce="00000000000">#whm-nav .whm-group-title { letter-spacing: .04em; }</style>
<script nonce="00000000000">window.PAGE = { securityToken: "/cpsess0000000000", user: "cpuser00000000000", title: "Results of Your Request" };</script>
<script src="/cpsess0000000000/fake-whm/chrome.js"></script>
</head>
<body class="whm yui-skin-sam">
<header id="whm-masthead">
  <a class="whm-logo" href="/cpsess0000000000/">WHM</a>
  <form id="whm-search" role="search" action="/cpsess0000000000/scripts/command" method="get"><input type="search" name="q" aria-label="Search Tools and Accounts" placeholder="Search Tools and Accounts"></form>
  <div id="whm-user-menu"><span class="whm-user">cpuser00000000000</span> <a href="/logout/?locale=en">Log out</a></div>
</header>
<div id="whm-layout">
<nav id="whm-nav" aria-label="WHM navigation">
  <ul>
    <li><a href="/cpsess0000000000/">Home</a></li>
    <li class="whm-group"><span class="whm-group-title">Server Configuration</span>
      <ul><li><a href="/cpsess0000000000/scripts2/tweaksettings">Tweak Settings</a></li></ul></li>
    <li class="whm-group"><span class="whm-group-title">DNS Functions</span>
      <ul><li><a href="/cpsess0000000000/scripts/command?PFILE=DNS_Functions">DNS Zone Manager</a></li></ul></li>
    <li class="whm-group"><span class="whm-group-title">Plugins</span>
      <ul><li><a href="/cpsess0000000000/cgi/tlsa_manager/index.cgi">TLSA Manager</a></li></ul></li>
  </ul>
</nav>
<div id="whm-content" class="body-content">
${skipHeader ? '' : '<div id="whm-page-header"><h1 class="page-header"><span id="pageHeading">Results of Your Request</span></h1></div>\n'}`;
}

const FOOTER = `</div>
</div>
<footer id="whm-footer"><span>cPanel &amp; WHM</span> <a href="/cpsess0000000000/scripts/command?PFILE=main">Home</a></footer>
<script nonce="00000000000">document.documentElement.setAttribute('data-whm-footer', 'ran');</script>
</body>
</html>
`;

/** WHM's own stylesheet, with the global element rules a Bootstrap-based theme has. */
const CSS = `body { margin: 0; font-family: "Open Sans", Arial, sans-serif; font-size: 13px; line-height: 1.42857; color: #333; background: #f5f5f5; }
a { color: #337ab7; text-decoration: underline; }
h1 { font-size: 36px; margin: 20px 0 10px; font-weight: 500; }
table { border-collapse: collapse; border-spacing: 0; }
th, td { padding: 0; }
button, input, select { font-family: inherit; font-size: 15px; }
.btn { padding: 10px 20px; border-radius: 0; }
.table { width: 100%; margin-bottom: 20px; }
.badge { background-color: #777; color: #fff; }
.panel { box-shadow: 0 1px 1px rgba(0,0,0,.05); }
.breadcrumb > li + li:before { content: "/ "; }
#whm-masthead { display: flex; align-items: center; gap: 16px; height: 50px; padding: 0 16px; background: #293a4a; color: #fff; }
#whm-masthead a { color: #fff; text-decoration: none; }
.whm-logo { font-weight: 700; font-size: 20px; }
#whm-search input { width: 260px; padding: 4px 8px; font-size: 13px; }
#whm-user-menu { margin-left: auto; }
#whm-layout { display: flex; align-items: flex-start; }
#whm-nav { width: 210px; flex: none; background: #1e2a36; min-height: 600px; padding: 8px 0; }
#whm-nav ul { list-style: none; margin: 0; padding: 0; }
#whm-nav a { display: block; padding: 5px 16px; color: #d7e1ea; text-decoration: none; font-size: 13px; }
#whm-nav .whm-group-title { display: block; padding: 10px 16px 4px; color: #8ea2b5; font-size: 11px; text-transform: uppercase; }
#whm-content { flex: 1; min-width: 0; padding: 10px 24px 24px; background: #fff; }
#whm-footer { padding: 12px 16px; color: #777; font-size: 12px; border-top: 1px solid #ddd; }
`;

/** WHM's script: marks the page so a test can see it ran (it would run WHM's navigation). */
const JS = `(function () {
  document.documentElement.setAttribute('data-whm-chrome', window.PAGE && window.PAGE.user ? 'ran' : 'no-page-vars');
})();
`;

/** A 1×1 PNG for the page icon (browsers ask for one; a missing icon is a console error). */
const FAVICON = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

async function put(root: string, path: string, text: string | Buffer, mode = 0o644): Promise<void> {
  const file = resolve(root, `.${path}`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  await chmod(file, mode);
}

/** Write the fake chrome for the WHM user `root` into `root` (a cPanel-shaped tree). */
export async function writeWhmChrome(root: string): Promise<void> {
  await put(root, `${CACHES}/_generated_header_files/cache_keys.json`, `${JSON.stringify({ root: WHM_CHROME_KEY })}\n`, 0o600);
  await put(root, `${CACHES}/_generated_header_files/${WHM_CHROME_KEY}_0_0.html`, header(false), 0o600);
  await put(root, `${CACHES}/_generated_header_files/${WHM_CHROME_KEY}_0_1.html`, header(true), 0o600);
  await put(root, `${CACHES}/_generated_footer_files/footer.html`, FOOTER, 0o600);
  await put(root, `${WHM_DOCROOT}/fake-whm/chrome.css`, CSS);
  await put(root, `${WHM_DOCROOT}/fake-whm/chrome.js`, JS);
  await put(root, `${WHM_DOCROOT}/fake-whm/favicon.png`, FAVICON);
}
