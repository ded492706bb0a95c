"""Discord's upload flow (reference §1.9): an upload slot, a PUT of the bytes, a reference.

``POST /channels/{id}/attachments`` hands out slots whose ``upload_url`` points at this server's
``/upload/<opaque>`` (Google storage in production: no Authorization, raw body). Interactions then
name the file by ``uploaded_filename`` in ``data.attachments`` (``resolve``).
"""

from __future__ import annotations

import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mjapi.simulator import errors
from mjapi.simulator.objects import JsonObject

#: Discord's attachment size limit for a user without Nitro, roughly (25 MiB)
MAX_FILE_SIZE = 25 * 1024 * 1024
#: slots kept; the oldest are forgotten first
_SLOT_LIMIT = 2000


@dataclass
class UploadSlot:
    user_id: str
    channel_id: str
    filename: str
    #: ``<uuid>/<filename>``: what an interaction names as ``uploaded_filename``
    upload_filename: str
    file_size: int
    data: bytes | None = None


class UploadStore:
    """Slots by their opaque URL token and by ``upload_filename``."""

    def __init__(self) -> None:
        self._by_token: OrderedDict[str, UploadSlot] = OrderedDict()
        self._by_name: dict[str, UploadSlot] = {}

    def open(
        self, user_id: str, channel_id: str, filename: str, size: int
    ) -> tuple[str, UploadSlot]:
        token = secrets.token_urlsafe(24)
        slot = UploadSlot(user_id, channel_id, filename, f"{uuid.uuid4()}/{filename}", size)
        self._by_token[token] = slot
        self._by_name[slot.upload_filename] = slot
        while len(self._by_token) > _SLOT_LIMIT:
            _, old = self._by_token.popitem(last=False)
            self._by_name.pop(old.upload_filename, None)
        return token, slot

    def by_token(self, token: str) -> UploadSlot | None:
        return self._by_token.get(token)

    def uploaded(self, user_id: str, upload_filename: str) -> UploadSlot | None:
        """The user's slot of that name, if its bytes arrived."""
        slot = self._by_name.get(upload_filename)
        if slot is None or slot.user_id != user_id or slot.data is None:
            return None
        return slot

    async def put(self, request: Request) -> Response:
        """``PUT /upload/{token}``: the raw bytes, which must have the announced size."""
        slot = self.by_token(request.path_params["token"])
        if slot is None:
            return JSONResponse({"error": "NoSuchUpload", "message": "unknown upload"}, 404)
        data = await request.body()
        if len(data) != slot.file_size:
            body = {
                "error": "BadRequest",
                "message": f"{len(data)} bytes received, file_size said {slot.file_size}",
            }
            return JSONResponse(body, 400)
        slot.data = data
        return Response(status_code=200)


def requested_files(body: object) -> list[JsonObject]:
    """The ``files`` of an upload-slot request, validated like Discord (400/50035)."""
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
        raise errors.invalid_form_body(("files",), "BASE_TYPE_REQUIRED", "This field is required")
    for position, file in enumerate(files):
        _check_file(position, file)
    return files


def _check_file(position: int, file: JsonObject) -> None:
    name, size = file.get("filename"), file.get("file_size")
    if not isinstance(name, str) or not name or "/" in name:
        raise errors.invalid_form_body(
            ("files", str(position), "filename"), "BASE_TYPE_REQUIRED", "This field is required"
        )
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_FILE_SIZE:
        raise errors.invalid_form_body(
            ("files", str(position), "file_size"),
            "NUMBER_TYPE_MAX",
            f"int value should be between 1 and {MAX_FILE_SIZE}.",
        )


@dataclass(frozen=True)
class ResolvedFile:
    """An uploaded file an interaction option (type 11) refers to."""

    filename: str
    upload_filename: str
    data: bytes
