"""Fetch a page or feed by URL, within limits, from public addresses only unless allowed.

Whoever asks for a URL (a user of the server, a feed naming its entries' pages) may point it at
this machine or its network, so every hop's host is resolved and judged before it is contacted
(`check_address`), and the connection goes to the address that was judged, never to a second
lookup that could answer differently. For the same reason proxies from the environment are not
used. The CLI, run by the machine's own user, passes `allow_private=True`; the server passes
`settings.allow_private_urls`.

Every fetch is bounded: `fetch_timeout` per step (a connect, the wait for the next piece) and
four times that for the whole fetch, every hop's connect, headers and body (`rag.ingest.deadline`;
a name lookup has the system resolver's own timeout); a body cut off past `fetch_max_bytes`,
counted as it is decoded, so a small gzip body cannot unpack to gigabytes (only gzip or plain
bodies are asked for and read); at most `fetch_max_redirects` redirects; only the content types
the caller accepts. Each failure is a `FetchFailed`: one line naming the URL and what to do.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import zlib
from collections.abc import Collection
from dataclasses import dataclass

import httpx

from rag.errors import BadInput
from rag.ingest.deadline import Watchdog
from rag.settings import Settings

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                        "application/feed+xml", "application/xml", "text/xml"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PLAIN, GZIP = frozenset({"", "identity"}), frozenset({"gzip", "x-gzip"})
WHOLE_FETCH = 4  # the whole fetch may take this many times `fetch_timeout`
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchFailed(BadInput):
    """A URL that could not be fetched as asked; `reason` is the message without the URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL, after redirects
    status: int  # 200 (or another 2xx), or 304 when a conditional fetch found nothing new
    content_type: str  # the media type, lower case, without parameters ("" on a 304)
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


def is_url(text: str) -> bool:
    """Whether a command-line argument names a URL rather than a path."""
    return bool(_SCHEME.match(text))


def web_url(url: str) -> httpx.URL:
    """`url` parsed, if it is an http(s) URL with a host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise FetchFailed(url, "not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchFailed(url, "only http:// and https:// URLs can be fetched")
    return parsed


# ---------------------------------------------------------------------------------------------
# the address guard


def refused_because(address: IpAddress) -> str | None:
    """Why an address is not one to fetch from on someone else's say-so (None: it is public).
    An IPv4-mapped IPv6 address is the IPv4 address it maps; a 6to4 one is judged by the IPv4
    address inside it too."""
    candidates: list[IpAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            candidates = [address.ipv4_mapped]
        elif address.sixtofour:
            candidates.append(address.sixtofour)
    for candidate in candidates:
        for kind, flag in (("unspecified", candidate.is_unspecified),
                           ("loopback", candidate.is_loopback),
                           ("link-local", candidate.is_link_local),
                           ("multicast", candidate.is_multicast),
                           ("reserved", candidate.is_reserved),
                           ("private", candidate.is_private),
                           ("non-public", not candidate.is_global)):
            if flag:
                return kind
    return None


def check_address(url: str, *, allow_private: bool) -> list[str]:
    """The addresses `url`'s host resolves to, each judged (a literal address is judged without
    any lookup or traffic); refused if any is not public, unless `allow_private`."""
    parsed = web_url(url)
    host = parsed.raw_host.decode("ascii").strip("[]")
    addresses = _resolve(url, host, parsed.port or (443 if parsed.scheme == "https" else 80))
    if not allow_private:
        for address in addresses:
            kind = refused_because(address)
            if kind:
                shown = host if host == str(address) else f"{host} ({address})"
                raise FetchFailed(url, f"{shown} is a {kind} address, which this server does not "
                                       "fetch from (set RAG_ALLOW_PRIVATE_URLS=true to allow it)")
    return [str(a) for a in addresses]


def _resolve(url: str, host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(url, f"cannot find the host {host} ({_one_line(exc)})") from None
    found: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


# ---------------------------------------------------------------------------------------------
# fetching


def fetch(url: str, settings: Settings, *, allow_private: bool, accept: Collection[str],
          etag: str | None = None, last_modified: str | None = None) -> Fetched:
    """GET `url`, following redirects (each hop judged again), as one of the `accept`ed media
    types. With `etag` or `last_modified` the request is conditional and may come back as 304."""
    headers = {"User-Agent": settings.user_agent, "Accept": _accept_header(accept),
               "Accept-Encoding": "gzip, identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    target = web_url(url)
    visited = {str(target.copy_with(fragment=None))}
    whole = WHOLE_FETCH * settings.fetch_timeout
    late = FetchFailed(url, f"not fetched within {whole:g} s in all ({WHOLE_FETCH} times "
                            "RAG_FETCH_TIMEOUT, redirects, headers and body together)")
    try:
        # no connection is kept for the next hop: one opened for another host name on the
        # same address would carry that host's TLS session
        with Watchdog(whole) as watchdog, \
                httpx.Client(follow_redirects=False, trust_env=False,
                             limits=httpx.Limits(max_keepalive_connections=0)) as client:
            for _ in range(settings.fetch_max_redirects + 1):
                response = _send(client, target, headers, settings, watchdog,
                                 allow_private=allow_private)
                try:
                    location = response.headers.get("location")
                    if response.status_code not in REDIRECTS or not location:
                        fetched = _read(url, str(target), response, accept, settings,
                                        conditional=bool(etag or last_modified))
                        if watchdog.expired:  # a body without a length ends when shut
                            raise late
                        return fetched
                finally:
                    response.close()
                target = _next_hop(url, target, location)
                hop = str(target.copy_with(fragment=None))
                if hop in visited:
                    raise FetchFailed(url, f"redirects in a loop (back to {hop})")
                visited.add(hop)
    except FetchFailed:
        if watchdog.expired:  # a body cut short by the watchdog, not by its server
            raise late from None
        raise
    except httpx.HTTPError as exc:
        if watchdog.over:
            raise late from None
        if isinstance(exc, httpx.TimeoutException):
            raise FetchFailed(url, f"no answer within {settings.fetch_timeout:g} s "
                                   "(RAG_FETCH_TIMEOUT sets the limit)") from None
        if isinstance(exc, httpx.ConnectError):
            raise FetchFailed(url, f"cannot connect ({_one_line(exc)})") from None
        raise FetchFailed(url, f"the fetch failed ({_one_line(exc)})") from None
    raise FetchFailed(url, f"more than {settings.fetch_max_redirects} redirects "
                           "(RAG_FETCH_MAX_REDIRECTS sets the limit)")


def _send(client: httpx.Client, target: httpx.URL, headers: dict[str, str], settings: Settings,
          watchdog: Watchdog, *, allow_private: bool) -> httpx.Response:
    """Send to the judged addresses in turn (as a system's connect would), naming the host in
    the Host header and, over TLS, in SNI and the certificate check; no step outlasts the fetch."""
    addresses = check_address(str(target), allow_private=allow_private)
    host = target.raw_host.decode("ascii")
    extensions = {"trace": watchdog.trace}
    if target.scheme == "https":
        extensions["sni_hostname"] = host.strip("[]")
    for i, address in enumerate(addresses):
        left = watchdog.remaining()
        if left <= 0:
            raise httpx.ReadTimeout("the whole fetch took too long")
        request = client.build_request("GET", target.copy_with(host=address),
                                       headers={**headers, "Host": target.netloc.decode("ascii")},
                                       timeout=httpx.Timeout(min(settings.fetch_timeout, left)),
                                       extensions=extensions)
        try:
            return client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            if i == len(addresses) - 1:
                raise
    raise httpx.ConnectError(f"no address for {host}")


def _read(url: str, final: str, response: httpx.Response, accept: Collection[str],
          settings: Settings, *, conditional: bool) -> Fetched:
    status = response.status_code
    etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
    if status == 304 and conditional:
        return Fetched(final, 304, "", None, b"", etag, modified)
    if not 200 <= status < 300 or status == 204:
        raise FetchFailed(url, f"the server answered {status} {response.reason_phrase}".rstrip())
    media, charset = _content_type(response.headers.get("content-type", ""))
    if media not in accept:
        raise FetchFailed(url, f"the server sent {media or 'content without a type'}, not "
                               f"{_what(accept)}")
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in PLAIN | GZIP:
        raise FetchFailed(url, f"the server sent the body encoded as {encoding!r}, which is not "
                               "read (only gzip or no encoding is asked for)")
    cap = settings.fetch_max_bytes
    too_big = FetchFailed(url, f"larger than {cap:,} bytes (RAG_FETCH_MAX_BYTES sets the limit)")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_big
    # raw bytes, inflated here: httpx would decode each piece whole before the cap is checked;
    # `max_length` holds back (in `unconsumed_tail`) what would not fit under the cap plus one
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in GZIP else None
    body, received = bytearray(), 0
    try:
        for piece in response.iter_raw():
            received += len(piece)
            if received > cap:
                raise too_big
            if inflater is None:
                body += piece
            else:
                while piece and not inflater.eof and len(body) <= cap:
                    body += inflater.decompress(piece, cap + 1 - len(body))
                    piece = inflater.unconsumed_tail
            if len(body) > cap:
                raise too_big
    except zlib.error:
        raise FetchFailed(url, "the server sent a damaged gzip body") from None
    if inflater is not None and not inflater.eof:
        raise FetchFailed(url, "the server's gzip body ends before its end")
    return Fetched(final, status, media, charset, bytes(body), etag, modified)


def _content_type(header: str) -> tuple[str, str | None]:
    media, _, params = header.partition(";")
    charset = re.search(r"charset\s*=\s*\"?([\w.:-]+)", params, re.I)
    return media.strip().lower(), charset.group(1) if charset else None


def _next_hop(url: str, current: httpx.URL, location: str) -> httpx.URL:
    try:
        return web_url(str(current.join(location)))
    except (httpx.InvalidURL, ValueError, FetchFailed):
        raise FetchFailed(url, f"redirects to {' '.join(location.split())!r}, which is not an "
                               "http(s) URL") from None


def _accept_header(accept: Collection[str]) -> str:
    """The types asked for first, generic XML after them, anything else last (a server that
    negotiates still answers; the content type is checked on arrival)."""
    generic = {"application/xml", "text/xml"}
    named = sorted(t for t in accept if t not in generic)
    return ", ".join([*named, *(f"{t};q=0.9" for t in sorted(generic & set(accept))), "*/*;q=0.1"])


def _what(accept: Collection[str]) -> str:
    pages, feeds = bool(PAGE_TYPES & set(accept)), bool(FEED_TYPES & set(accept))
    if pages and feeds:
        return "a web page or an RSS/Atom feed"
    return "a web page (HTML)" if pages else "an RSS or Atom feed"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
