// Where the DNS process program lives, for `ip netns exec NS node MAIN CONFIG` (kept apart from
// index.ts so a starter does not load the proxy itself).
export const DNS_MAIN = new URL('./main.ts', import.meta.url);
