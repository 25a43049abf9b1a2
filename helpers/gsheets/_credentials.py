"""Which service-account key to use, loading it, and keeping its secrets out of messages."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gspread
from google.oauth2 import service_account

from helpers.errors import SourceError

_READONLY_SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
)
_ENV_VAR = "GOOGLE_APPLICATION_CREDENTIALS"


@dataclass(frozen=True)
class _Found:
    path: Path | None
    origin: str  # how the path was chosen, for messages
    looked: tuple[str, ...]  # where we looked, for the no-credentials message


class _ServiceAccount:
    """A loaded service-account key; its repr never shows the key."""

    def __init__(self, path: Path, client_email: str, credentials: Any, secrets: list[str]):
        self.path = path
        self.client_email = client_email
        self.credentials = credentials
        self.secrets = secrets

    def __repr__(self) -> str:
        return f"<service account {self.client_email} from {self.path}>"


def _default_key_path() -> Path:
    # Computed at call time (gspread's own constant is fixed when it is imported).
    return gspread.auth.get_config_dir() / "service_account.json"


def _find_credentials(credentials: str | os.PathLike | None) -> _Found:
    if credentials is not None and str(credentials).strip():
        path = _key_file(
            str(credentials),
            named="The credentials parameter",
            fix="Pass the path of a service-account key file (JSON, from the Google Cloud "
            "console: IAM & Admin > Service accounts > Keys > Add key > JSON).",
        )
        return _Found(path, f"the credentials file {path}", ())
    env = os.environ.get(_ENV_VAR, "").strip()
    if env:
        path = _key_file(
            env,
            named=f"${_ENV_VAR}",
            fix=f"Point ${_ENV_VAR} at a service-account key file (JSON), or unset it.",
        )
        return _Found(path, f"the credentials file {path} (from ${_ENV_VAR})", ())
    default = _default_key_path()
    looked = (
        "the credentials argument (not given)",
        f"${_ENV_VAR} (not set)",
        f"{default} (no such file)",
    )
    if default.is_file():
        return _Found(default, f"the credentials file {default} (gspread's default location)", ())
    return _Found(None, "", looked)


def _key_file(value: str, *, named: str, fix: str) -> Path:
    """The key file a credentials setting names. A setting holding the key itself (its JSON,
    a common mistake with environment variables) is refused without repeating it."""
    if value.lstrip().startswith("{") or "\n" in value or len(value) > 1024:
        raise SourceError(
            f"{named} holds what looks like the key's contents, not the path of a key file "
            f"(not shown here: it is a secret). {fix}"
        )
    path = Path(value).expanduser()
    try:
        is_file = path.is_file()
    except OSError:  # e.g. a name too long for the file system
        is_file = False
    if not is_file:
        raise SourceError(
            f"{named} names the file {path}, which does not exist (or is not a file). {fix}"
        )
    return path


def _load_service_account(found: _Found) -> _ServiceAccount:
    path = found.path
    assert path is not None
    not_a_key = f"{found.origin[0].upper()}{found.origin[1:]} is not a service-account key file"
    how = (
        "Download one in the Google Cloud console (IAM & Admin > Service accounts > Keys > Add "
        "key > JSON) and use that file as it was downloaded."
    )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"Could not read {found.origin} ({type(exc).__name__}). Check that the file is "
            f"readable. {how}"
        ) from None
    try:
        info = json.loads(text)
    except ValueError:
        raise SourceError(f"{not_a_key}: it is not valid JSON. {how}") from None
    if not isinstance(info, dict):
        raise SourceError(f"{not_a_key}: it holds no JSON object. {how}")
    kind = info.get("type")
    if kind != "service_account":
        if kind == "authorized_user" or "installed" in info or "web" in info:
            what = "an OAuth client or user credential, not a service-account key"
        else:
            what = f"its type is {kind!r}, not 'service_account'" if kind else "it has no type"
        raise SourceError(f"{not_a_key}: {what}. {how}")
    missing = [
        name
        for name in ("client_email", "private_key", "token_uri")
        if not isinstance(info.get(name), str) or not info.get(name)
    ]
    if missing:
        raise SourceError(f"{not_a_key}: it lacks {', '.join(missing)}. {how}")
    email = info["client_email"]
    secrets = _secret_values(info)
    try:
        creds = service_account.Credentials.from_service_account_info(
            info, scopes=list(_READONLY_SCOPES)
        )
    except Exception:  # any failure here means a damaged key; never echo its text
        raise SourceError(
            f"The private key in {found.origin} (service account {email}) cannot be used: the "
            f"file looks damaged or edited. {how}"
        ) from None
    return _ServiceAccount(path, email, creds, secrets)


def _secret_values(info: dict) -> list[str]:
    """Every string from a key file that must never be shown, longest first."""
    out: set[str] = set()
    for name in ("private_key", "private_key_id", "client_id"):
        value = info.get(name)
        if isinstance(value, str) and value.strip():
            out.add(value.strip())
    key = info.get("private_key")
    if isinstance(key, str):
        for line in key.replace("\\n", "\n").splitlines():
            line = line.strip()
            if len(line) >= 8 and not line.startswith("-----"):
                out.add(line)
    return sorted(out, key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
