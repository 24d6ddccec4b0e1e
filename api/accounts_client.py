"""A client of the account routes for scripts (the ``ets accounts`` commands, the demo): it signs in
with SIWE, signs applications and the reviewer's propose transaction with a local key (the key
never leaves the process) and calls the API over HTTP, as the dashboard does in a browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from api.errors import ApiError
from chain.accounts import Signer
from chain.applications import sign_typed_data
from chain.siwe import wallet_sign_in


class AccountsApiError(ApiError):
    """Raised when the API refuses a request of :class:`AccountsClient`; ``error`` is the API's
    machine-readable name (``ApplicationDuplicateCodeError`` ...)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        self.status = status
        self.error = error
        super().__init__(f"{error} ({status}): {message}")


@dataclass
class AccountsClient:
    """The account routes of the API at ``http``'s base URL, as ``signer``.

    Attributes:
        http: an HTTP client with the API's base URL.
        signer: the local key that signs in, applies or reviews.
    """

    http: httpx.Client
    signer: Signer
    _headers: dict[str, str] = field(default_factory=dict)

    def _auth(self) -> dict[str, str]:
        if not self._headers:
            token = wallet_sign_in(self.http.post, self.signer, statement="Sign in to ETS Chain")
            self._headers = {"Authorization": f"Bearer {token}"}
        return self._headers

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, headers=self._auth(), **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"error": "HttpError", "message": response.text[:300]}
            raise AccountsApiError(response.status_code, str(body.get("error")), str(body.get("message")))
        return response

    def apply(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Sign the API's typed data of ``fields`` (the body of ``POST /accounts/applications``
        without the signature) and submit it; returns the stored application."""
        return dict(self._call("POST", "/accounts/applications", json=self._signed(fields)).json())

    def resubmit(self, application_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Answer a request for information with ``fields`` signed again."""
        path = f"/accounts/applications/{application_id}/resubmit"
        return dict(self._call("POST", path, json=self._signed(fields)).json())

    def _signed(self, fields: dict[str, Any]) -> dict[str, Any]:
        typed = self._call("POST", "/accounts/applications/typed-data", json=fields).json()["typed_data"]
        return fields | {"signature": sign_typed_data(self.signer, typed)}

    def review(self, application_id: str, decision: str, reason: str = "") -> dict[str, Any]:
        """Review an application; an acceptance's propose transaction is signed with the local key
        and relayed (``outcome`` in the answer: the relay's outcome)."""
        path = f"/accounts/applications/{application_id}/review"
        done: dict[str, Any] = self._call("POST", path, json={"decision": decision, "reason": reason}).json()
        propose = done.get("propose")
        if propose:
            unsigned = {k: v for k, v in propose["tx"].items() if k != "from"}
            raw = "0x" + bytes(self.signer.sign_transaction(unsigned).raw_transaction).hex()
            body = {"intent_id": propose["intent_id"], "raw_transaction": raw}
            done["outcome"] = self._call("POST", "/tx/relay", json=body).json()
        return done

    def application(self, application_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/accounts/applications/{application_id}").json())

    def applications(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"limit": 1000, **({"status": status} if status else {})}
        return list(self._call("GET", "/accounts/applications", params=params).json()["items"])

    def statement_days(self, account: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/statements/{account}/days").json())

    def statement(self, account: str, period: str, label: str) -> dict[str, Any]:
        """``period`` daily (``label`` a day) or monthly (a month)."""
        return dict(self._call("GET", f"/statements/{account}/{period}/{label}").json())

    def statement_file(self, account: str, period: str, label: str, fmt: str) -> bytes:
        """The statement as ``csv`` or ``pdf`` bytes."""
        path = f"/statements/{account}/{period}/{label}/download"
        return self._call("GET", path, params={"format": fmt}).content
