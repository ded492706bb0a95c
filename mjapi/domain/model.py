"""The useapi v2 job model: how a Job looks on the wire (responses and callbacks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mjapi.domain.jobs import Job


def iso_ms(moment: datetime) -> str:
    """useapi's timestamp form: ``2023-09-09T02:04:49.667Z``."""
    # Twice per job body, so the usual case is kept cheap: no astimezone for a UTC datetime,
    # and isoformat (whose milliseconds truncate, as ``// 1000`` does) rather than strftime.
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y leaves these unpadded ("999-..."); keep its form
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.isoformat(timespec="milliseconds")[:-6] + "Z"


def job_model(job: Job, code: int = 200) -> dict[str, Any]:
    """The job as useapi returns it from ``GET jobs/?jobid=``, job POSTs and callbacks."""
    body: dict[str, Any] = {
        "jobid": job.jobid,
        "verb": job.verb,
        "status": job.status.value,
        "created": iso_ms(job.created),
        "updated": iso_ms(job.updated),
    }
    optional: dict[str, Any] = {
        "prompt": job.prompt,
        "button": job.button,
        "parentJobId": job.parent_job_id,
        "children": [_child(c) for c in job.children] or None,
        "buttons": [b.label for b in job.buttons] or None,
        "discord": job.discord,
        "channel": job.channel,
        "server": job.server,
        "maxJobs": job.max_jobs,
        "replyUrl": job.reply_url,
        "replyRef": job.reply_ref,
        "messageId": job.message_id,
        "content": job.content,
        "timestamp": job.timestamp,
        "attachments": [a.to_json() for a in job.attachments] or None,
        "blendUrls": list(job.blend_urls) or None,
        "blendDimensions": job.blend_dimensions,
        "describeUrl": job.describe_url,
        "embeds": list(job.embeds) or None,
        "seed": {"content": job.seed.content, "value": job.seed.value} if job.seed else None,
        "error": job.error,
        "errorDetails": job.error_details,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body["code"] = code
    return body


def _child(child: Any) -> dict[str, Any]:
    out = {"button": child.button, "jobid": child.jobid}
    if child.message_id:
        out["messageId"] = child.message_id
    return out


class JobIdFactory:
    """Makes useapi-shaped job ids, unique even when two jobs start in the same millisecond."""

    def __init__(self) -> None:
        self._last: datetime | None = None

    def make(self, now: datetime, owner: int, channel: str) -> str:
        moment = now.astimezone(UTC).replace(microsecond=(now.microsecond // 1000) * 1000)
        if self._last is not None and moment <= self._last:
            moment = self._last + timedelta(milliseconds=1)
        self._last = moment
        stamp = moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"
        return f"job:{stamp}-user:{owner}-channel:{channel}"
