"""A real OAuth 2.0 client against a latchkey server.

requests-oauthlib (on oauthlib) does the password grant at /token, a
refresh_token grant, calls /users/me with the bearer token, and revokes the
refresh token at /revoke (RFC 7009, the request prepared by oauthlib). Then
the revoked session must be refused for both tokens.

Usage: password_flow.py BASE_URL USERNAME PASSWORD
Exit status 0 when every step behaved; otherwise a line says which did not.
"""

import os
import sys

# The test server speaks plain HTTP on 127.0.0.1.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

import requests  # noqa: E402
from oauthlib.oauth2 import LegacyApplicationClient  # noqa: E402
from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # noqa: E402
from requests_oauthlib import OAuth2Session  # noqa: E402

CLIENT_ID = "latchkey-test-client"


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def main():
    base, username, password = sys.argv[1], sys.argv[2], sys.argv[3]
    token_url = f"{base}/token"
    client = LegacyApplicationClient(client_id=CLIENT_ID)
    session = OAuth2Session(client=client)

    token = session.fetch_token(
        token_url=token_url,
        username=username,
        password=password,
        include_client_id=True,
    )
    check(token.get("token_type", "").lower() == "bearer", "password grant gives a bearer token")
    check(bool(token.get("refresh_token")), "password grant gives a refresh token")
    first_refresh = token["refresh_token"]

    me = session.get(f"{base}/users/me")
    check(me.status_code == 200, f"/users/me with the first token: {me.status_code}")
    check(me.json().get("username") == username, "/users/me names the user")

    token = session.refresh_token(token_url, refresh_token=first_refresh, client_id=CLIENT_ID)
    check(token.get("refresh_token") not in (None, first_refresh), "refresh rotates the refresh token")
    check(session.access_token == token["access_token"], "the session uses the new access token")

    me = session.get(f"{base}/users/me")
    check(me.status_code == 200, f"/users/me with the refreshed token: {me.status_code}")

    url, headers, body = client.prepare_token_revocation_request(
        f"{base}/revoke", token["refresh_token"], token_type_hint="refresh_token"
    )
    revoked = requests.post(url, headers=headers, data=body, timeout=10)
    check(revoked.status_code == 200, f"/revoke answers 200: {revoked.status_code}")

    me = session.get(f"{base}/users/me")
    check(me.status_code == 401, f"/users/me after revocation is refused: {me.status_code}")
    try:
        session.refresh_token(token_url, refresh_token=token["refresh_token"], client_id=CLIENT_ID)
    except OAuth2Error as error:
        check(True, f"refresh after revocation is refused ({error.error})")
    else:
        check(False, "refresh after revocation is refused")
    print("all steps passed")


if __name__ == "__main__":
    main()
