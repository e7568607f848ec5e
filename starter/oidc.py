"""OpenID Connect bearer tokens, verified with PyJWT against the issuer's published keys.

`CRISIS_OIDC_ISSUER` is the issuer URL; its discovery document
(`<issuer>/.well-known/openid-configuration`) names the JWKS URI, fetched and cached by PyJWT's
`PyJWKClient` (refetched when a token names a key id it has not seen: key rotation at the issuer).
A token is accepted when its signature verifies with one of those keys under an asymmetric
algorithm (never `none`, never HMAC: a public key must not double as a shared secret), `iss` is the
issuer, `aud` holds `CRISIS_OIDC_AUDIENCE`, `exp` is in the future (30 s leeway for clock skew), and
the claim `CRISIS_OIDC_PERSON_CLAIM` names a person who is active in the directory (the caller checks
that). No cryptography of our own: PyJWT and `cryptography` do all of it.
"""

import asyncio
from typing import Any

import httpx
import jwt
from jwt import PyJWKClient

from activities.credentials import CredentialRefused

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_S = 30
FETCH_TIMEOUT_S = 5.0


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("ey")


class OidcVerifier:
    def __init__(self, issuer: str, audience: str, person_claim: str) -> None:
        self.issuer, self.audience, self.claim = issuer.rstrip("/"), audience, person_claim
        self._jwks: PyJWKClient | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> PyJWKClient:
        if self._jwks is None:
            async with self._lock:
                if self._jwks is None:
                    self._jwks = PyJWKClient(await self._jwks_uri(), cache_keys=False, lifespan=300,
                                             timeout=FETCH_TIMEOUT_S)
        return self._jwks

    async def _jwks_uri(self) -> str:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S) as http:
                answer = await http.get(url)
                answer.raise_for_status()
                uri = answer.json().get("jwks_uri")
        except (httpx.HTTPError, ValueError) as err:
            raise CredentialRefused(f"OIDC discovery at {url} failed ({type(err).__name__}): cannot verify tokens now") from None
        if not isinstance(uri, str) or not uri:
            raise CredentialRefused(f"OIDC discovery at {url} names no jwks_uri")
        return uri

    async def verify(self, token: str) -> str:
        """The person id the token names, or CredentialRefused with a one-line reason."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise CredentialRefused("malformed bearer token: not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise CredentialRefused(f"JWT algorithm {str(header.get('alg'))[:20]!r} is not accepted: "
                                    f"the issuer must sign with one of {', '.join(ALGORITHMS)}")
        client = await self._client()
        try:
            key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError:
            raise CredentialRefused("the issuer's keys (JWKS) cannot be fetched now: try again") from None
        except jwt.PyJWTError:
            raise CredentialRefused("JWT signed by a key the issuer does not publish") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_S, options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise CredentialRefused("JWT expired: sign in again") from None
        except jwt.InvalidAudienceError:
            raise CredentialRefused(f"JWT audience is not {self.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise CredentialRefused(f"JWT issuer is not {self.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise CredentialRefused("JWT signature does not verify") from None
        except jwt.PyJWTError as err:
            raise CredentialRefused(f"JWT refused: {type(err).__name__}") from None
        person = claims.get(self.claim)
        if not isinstance(person, str) or not person:
            raise CredentialRefused(f"JWT has no {self.claim!r} claim naming the person")
        return person
