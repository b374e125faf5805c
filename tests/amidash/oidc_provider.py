"""A small OpenID Connect provider for tests, run as its own process: ``python oidc_provider.py``.

Serves discovery, JWKS, authorize (consents at once for its one user), token and userinfo on a
free loopback port, which it prints as its first line. Tokens are RS256 JWTs signed with
Authlib's JOSE implementation. The user's groups come from the OIDC_TEST_GROUPS variable.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.jose import JsonWebKey, jwt

CLIENT_ID = "amidash"
CLIENT_SECRET = "provider-test-secret"
KEY = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-key"})
USER = {
    "sub": "u-1001",
    "email": "olga@example.com",
    "preferred_username": "olga",
    "groups": [g for g in os.environ.get("OIDC_TEST_GROUPS", "").split(",") if g],
}
CODES: dict[str, dict] = {}
ACCESS_TOKENS: set[str] = set()


class Provider(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, status: int, body: dict | None = None, location: str = "") -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        data = json.dumps(body or {}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self.answer(200, self.discovery())
        elif url.path == "/jwks":
            self.answer(200, {"keys": [KEY.as_dict(is_private=False)]})
        elif url.path == "/authorize":
            if query.get("client_id") != CLIENT_ID:
                return self.answer(400, {"error": "unauthorized_client"})
            code = secrets.token_urlsafe(16)
            CODES[code] = {"nonce": query.get("nonce"), "redirect_uri": query["redirect_uri"]}
            back = urlencode({"code": code, "state": query["state"]})
            self.answer(302, location=f"{query['redirect_uri']}?{back}")
        elif url.path == "/userinfo":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in ACCESS_TOKENS:
                return self.answer(401, {"error": "invalid_token"})
            self.answer(200, USER)
        else:
            self.answer(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        grant = CODES.pop(form.get("code", ""), None)
        if urlsplit(self.path).path != "/token" or grant is None:
            return self.answer(400, {"error": "invalid_grant"})
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return self.answer(401, {"error": "invalid_client"})
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self.answer(400, {"error": "invalid_grant"})
        access = secrets.token_urlsafe(24)
        ACCESS_TOKENS.add(access)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": USER["sub"],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            "email": USER["email"],
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, KEY).decode()
        self.answer(
            200,
            {
                "access_token": access,
                "id_token": id_token,
                "token_type": "Bearer",
                "expires_in": 300,
            },
        )

    def discovery(self) -> dict:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    print(server.server_port, flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
