// The login page: a user name and an API token (made by `battlemap token
// create`) are traded once for a session cookie, then the page that sent
// the user here is shown again.
import { campaign, sendJSON, topRegion } from "./common.js";

const $ = (id) => document.getElementById(id);

// The page names the campaign of the region the map opens on; the form
// works without it.
topRegion().then((top) => {
  document.title = `登录 · ${campaign(top)}`;
  $("campaign").textContent = `${campaign(top)} · 登录`;
}).catch(() => {});

/** next is where to go after signing in: the ?next= path when it is one
 * of this server's ("/…" but not "//…", which names another host, nor
 * "/\…", which browsers read the same way), else the drill-down. The URL
 * parser has the last word, as it drops tabs and newlines that would
 * otherwise slip a "//" past the pattern. */
function next() {
  const n = new URLSearchParams(location.search).get("next") ?? "";
  if (!/^\/(?![/\\])/.test(n)) return "/";
  const u = new URL(n, location.origin);
  return u.origin === location.origin ? u.pathname + u.search + u.hash : "/";
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  const token = $("token").value.trim();
  if (!name || !token) {
    $("problem").textContent = "请输入用户名和访问令牌。";
    (name ? $("token") : $("name")).focus();
    return;
  }
  const submit = e.target.querySelector("button[type=submit]");
  submit.disabled = true;
  $("problem").textContent = "";
  try {
    await sendJSON("POST", "/api/login", { name, token });
    location.assign(next());
  } catch (err) {
    // 401 (wrong name or token) and 429 (too many tries) say what to do
    // in their detail.
    $("problem").textContent = err.message;
    $("token").select();
  } finally {
    submit.disabled = false;
  }
});
$("name").focus();
