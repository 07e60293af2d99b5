/** Where the app's pages live: plain paths standalone, the WHM CGI with `?route=` behind WHM. */
export interface UrlBase {
  mode: 'standalone' | 'socket';
  /** `/cpsess0123456789` behind WHM, '' otherwise. */
  securityToken: string;
}

export const CGI_PATH = '/cgi/tlsa_manager/index.cgi';

export type UrlParams = Record<string, string | number | undefined | null>;

function encode(params: UrlParams): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') out.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return out;
}

/** A link or form action for `route` (an app path such as `/domains/example.com`). */
export function makeUrl(base: UrlBase, route: string, params: UrlParams = {}): string {
  const path = route.split('/').map((seg) => encodeURIComponent(decodeSafe(seg))).join('/');
  const qs = encode(params);
  if (base.mode === 'socket') return `${base.securityToken}${CGI_PATH}?${['route=' + encodeURIComponent(path), ...qs].join('&')}`;
  return qs.length ? `${path}?${qs.join('&')}` : path;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * `?route=/domains&x=1` → `/domains?x=1`. cpsrvd may not pass PATH_INFO to the CGI, so the shim
 * puts the app path in the query; standalone mode accepts it too. Returns null for a route that
 * is not a plain absolute app path.
 */
export function rewriteRoute(url: string): string | null | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  const route = params.get('route');
  if (route === null) return undefined;
  // eslint-disable-next-line no-control-regex
  if (!route.startsWith('/') || route.startsWith('//') || /[\x00-\x1f\\?#]/.test(route)) return null;
  params.delete('route');
  const rest = params.toString();
  return rest ? `${route}?${rest}` : route;
}
