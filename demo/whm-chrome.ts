import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * A fake of WHM's generated chrome, shaped like the real cache that cPanel's PHP helper
 * (/usr/local/cpanel/php/WHM.php) reads and Whostmgr::Templates::Chrome writes
 * (docs/reference-notes.md, "WHM's chrome"):
 *   - `_generated_header_files/cache_keys.json`: `{ "<WHM user>": "<cache key>" }` (WHM.php
 *     json_decode()s it and reads `$cacheObj->$user`);
 *   - `_generated_header_files/<key>_<skipsupport>_<skipheader>.html`, mode 0600
 *     (Whostmgr/Templates/Chrome.pm `process_header`, `_process_and_save_template`: rendered with
 *     theme `bootstrap`, `cp_security_token` `/cpsess0000000000`, REMOTE_USER `cpuser00000000000`
 *     and Cpanel::CSP::Nonces::nonce returning `00000000000`);
 *   - `_generated_footer_files/footer.html`, mode 0600 (`process_footer`).
 * The header and footer are hand-written after the STRUCTURE of cPanel 11.120's
 * whostmgr/docroot/templates/master_templates/_defheader.tmpl and _deffooter.tmpl (the template
 * line each part follows is named next to it; no text of cPanel's is copied). They hold every
 * kind of element the real ones hold: inline scripts with the nonce placeholder AND without any
 * nonce (one of them carrying `/cpsess0000000000`), an inline `<style type="text/css">` block,
 * `style="…"` attributes that keep elements hidden (`#topFrameWrapper`, the command list),
 * same-origin `<script src>` tags and web components (`cp-*` custom elements, defined by the
 * same-origin components script). The assets live under the fake docroot so a fake cpsrvd can
 * serve them. WHM's navigation, masthead and footer markup sit inside the components as light
 * DOM, so they show with or without the components script.
 */
export const WHM_CHROME_KEY = '6f1d0c2ab4e85937';
export const WHM_DOCROOT = '/usr/local/cpanel/whostmgr/docroot';
const CACHES = '/var/cpanel/caches';
/** What `[% Whostmgr.shorthostname() %]` and `[% Whostmgr.WHM_VERSION %]` render to on the fake server. */
export const WHM_SHORT_HOSTNAME = 'server';
export const WHM_VERSION = '11.120.0.17';

function header(skipHeader: boolean): string {
  return `<!DOCTYPE html>
<html lang="en" dir="ltr">
    <head>
        <meta http-equiv="X-UA-Compatible" content="IE=edge">
        <!-- _defheader.tmpl L305: the title; [% header %] is not set when the cache is rendered, in either variant -->
        <title>WHM [${WHM_SHORT_HOSTNAME}]  - ${WHM_VERSION}</title>
        <!-- L308-314: page icon and the first stylesheets, same origin -->
        <link rel="shortcut icon" href="/cpsess0000000000/fake-whm/favicon.png" type="image/png" />
        <link rel='stylesheet' type='text/css' href='/cpsess0000000000/fake-whm/chrome.css' />
        <meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
        <meta name="referrer" content="origin">
        <!-- L349-358: the page-wide variables, nonce'd -->
        <script nonce="00000000000">
            window.COMMON = window.COMMON || {};
            window.COMMON.hasRootPrivileges = true;
            window.COMMON.securityToken = "/cpsess0000000000";
            window.COMMON.userName = "cpuser00000000000";
        </script>
        <!-- L362-375: the tag-manager block, an inline script WITHOUT a nonce -->
        <script>
            window.whmTagData = window.whmTagData || [];
            window.whmTagData.push({ license: "fake" });
            document.documentElement.setAttribute('data-whm-tag', 'ran');
        </script>
        <!-- L404-419: the YUI container and CJT bundles, same origin by URL, no nonce -->
        <script type='text/javascript' src='/cpsess0000000000/fake-whm/cjt-min.js'></script>
        <!-- L495-582: the inline style block -->
        <style type="text/css">
        /* Extra Styles */
        #masterContainer
        {
            min-height: 120px;
        }
        </style>
        <meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0, user-scalable=1">
        <!-- L618-622: the web components bundle, same origin by URL, no nonce -->
        <script src="/cpsess0000000000/fake-whm/jupiter-web-components.cmb.min.js"></script>
    </head>
    <!-- L635-641: the body element -->
    <body class="whostmgr  page-" id="">
    <!-- L645-655: kept hidden by a style attribute -->
    <div id="topFrameWrapper" class="topFrameWrapper" style="display:none;visibility:hidden">
        <div class="informationWrapper">
            <div class="infoContainer">
                <a id="lnkWHMVersion"></a>
            </div>
        </div>
    </div>
    <!-- L666-686: the root variables component -->
    <cp-root-variables
        directory-prefix="/cpsess0000000000"
        app-name="whm"
        user="cpuser00000000000"
        version="${WHM_VERSION}"
    >
    </cp-root-variables>
    <!-- L714-717: the analytics loader component -->
    <cp-ui-load-analytics
        analytics-config="{&quot;optInAnalytics&quot;:0}"
    >
    </cp-ui-load-analytics>
    <!-- L719-721 -->
    <div id="page-overlay" class="page-overlay"></div>
    <div id="wrap" class="cp-layout-page">
        <div id="glass-navbar-overlay"></div>
        <!-- L728-733: the main menu component (its light DOM stands in for what it renders) -->
        <nav aria-label="Main menu" id="cp-main-menu-container" class="cp-layout-main-menu">
            <cp-main-menu logo-alt-text='WHM'>
                <div id="whm-nav">
                  <ul>
                    <li><a href="/cpsess0000000000/">Home</a></li>
                    <li class="whm-group"><span class="whm-group-title">Server Configuration</span>
                      <ul><li><a href="/cpsess0000000000/scripts2/tweaksettings">Tweak Settings</a></li></ul></li>
                    <li class="whm-group"><span class="whm-group-title">DNS Functions</span>
                      <ul><li><a href="/cpsess0000000000/scripts/command?PFILE=DNS_Functions">DNS Zone Manager</a></li></ul></li>
                    <li class="whm-group"><span class="whm-group-title">Plugins</span>
                      <ul><li><a href="/cpsess0000000000/cgi/tlsa_manager/index.cgi">TLSA Manager</a></li></ul></li>
                  </ul>
                </div>
            </cp-main-menu>
        </nav>
        <div class="cp-layout-wrapper ">
            <!-- L737-746: the header with the stats control and the header component -->
            <header role="banner" class="cp-layout-header cp-layout-header--with-main-menu">
                <cp-whm-header-stats-control>
                </cp-whm-header-stats-control>
                <cp-header
                    focus-search='true'
                    logo-alt-text='WHM'>
                    <div id="whm-masthead">
                      <a class="whm-logo" href="/cpsess0000000000/">WHM</a>
                      <form id="whm-search" role="search" action="/cpsess0000000000/scripts/command" method="get"><input type="search" name="q" aria-label="Search Tools and Accounts" placeholder="Search Tools and Accounts"></form>
                      <div id="whm-user-menu"><span class="whm-user">cpuser00000000000</span> <a href="/logout/?locale=en">Log out</a></div>
                    </div>
                </cp-header>
            </header>

        <!-- L749-760: the header menu listener, an inline script WITHOUT a nonce that carries the session token -->
        <script type="text/javascript">
            (function() {
                var top = document.querySelector('cp-header');
                if (top) {
                    top.addEventListener('menuItemPress', function (event) {
                        if (event.detail && event.detail.id === 'menu-reset-link') window.location.href = '/cpsess0000000000/';
                    });
                    document.documentElement.setAttribute('data-whm-listener', '/cpsess0000000000');
                }
            })();
        </script>
        <!-- L764-766: masterContainer -->
        <div id="masterContainer" data-app-key="">
        <!-- L767-771: the command list, kept hidden by a style attribute -->
        <div style="display: none;">
            <ul id="whm-command-list"><li><a href="/cpsess0000000000/scripts2/tweaksettings">Tweak Settings</a></li><li><a href="/cpsess0000000000/cgi/tlsa_manager/index.cgi">TLSA Manager</a></li></ul>
        </div>
        <!-- L772-774: pageContainer, contentContainer -->
        <div id="pageContainer">
            <div id="contentContainer">
${skipHeader ? '' : `            <!-- L793-805: the page heading, only when skipheader is 0; [% header %] falls back to the generic title here -->
                <div class="pageTitle" id="pageTitle-">
                    <h1>Results of Your Request</h1>
                </div>
`}            <!-- L806-809: breadcrumbs are skipped (a plugin has no breadcrumb data when the cache is built) -->
            <!-- PAGE TEMPLATE'S CONTENT -->
`;
}

const FOOTER = `                </div>
                <!-- _deffooter.tmpl L34-39: contentContainer, pageContainer, masterContainer end -->
            </div>
        </div>
        <!-- L43-47: the footer component (its light DOM stands in for what it renders) -->
        <footer class="cp-layout-footer" role="contentinfo">
            <cp-footer id="cp-footer" version="${WHM_VERSION}"><div id="whm-footer"><span>cPanel &amp; WHM</span> <a href="/cpsess0000000000/scripts/command?PFILE=main">Home</a></div></cp-footer>
        </footer>
        <!-- L61-65: page-specific inline code, WITHOUT a nonce (the template's yui branch; the shim must cover a footer script as well as a header one) -->
        <script>document.documentElement.setAttribute('data-whm-footer', 'ran');</script>
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
cp-main-menu, cp-header, cp-footer { display: block; }
#wrap { display: flex; align-items: flex-start; }
#cp-main-menu-container { width: 210px; flex: none; }
.cp-layout-wrapper { flex: 1; min-width: 0; }
#whm-nav { background: #1e2a36; min-height: 600px; padding: 8px 0; }
#whm-nav ul { list-style: none; margin: 0; padding: 0; }
#whm-nav a { display: block; padding: 5px 16px; color: #d7e1ea; text-decoration: none; font-size: 13px; }
#whm-nav .whm-group-title { display: block; padding: 10px 16px 4px; color: #8ea2b5; font-size: 11px; text-transform: uppercase; }
#contentContainer { padding: 10px 24px 24px; background: #fff; }
#whm-footer { padding: 12px 16px; color: #777; font-size: 12px; border-top: 1px solid #ddd; }
`;

/** WHM's CJT bundle (loaded by URL): marks the page so a test can see it ran with the nonce'd page variables. */
const CJT = `(function () {
  document.documentElement.setAttribute('data-whm-chrome', window.COMMON && window.COMMON.userName ? 'ran' : 'no-page-vars');
})();
`;

/**
 * WHM's web components bundle (loaded by URL): defines the `cp-*` elements the header and footer
 * use; each marks itself when the browser upgrades it, so a test can see the components ran.
 */
const COMPONENTS = `(function () {
  ['cp-root-variables', 'cp-ui-load-analytics', 'cp-main-menu', 'cp-whm-header-stats-control', 'cp-header', 'cp-footer'].forEach(function (name) {
    customElements.define(name, class extends HTMLElement {
      connectedCallback() { this.setAttribute('data-upgraded', ''); }
    });
  });
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
  await put(root, `${WHM_DOCROOT}/fake-whm/cjt-min.js`, CJT);
  await put(root, `${WHM_DOCROOT}/fake-whm/jupiter-web-components.cmb.min.js`, COMPONENTS);
  await put(root, `${WHM_DOCROOT}/fake-whm/favicon.png`, FAVICON);
}
