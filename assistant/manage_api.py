"""The knowledge manager's JSON endpoints under /v1/manage: documents, failures, upload, re-index, gaps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.params import Depends

from assistant.errors import ApiError
from assistant.feedback import FeedbackLog
from assistant.ingest_job import IngestJob
from assistant.schemas import (
    DocumentOut,
    DocumentsOut,
    ErrorOut,
    FailureOut,
    FailuresOut,
    GapOut,
    GapsOut,
    IngestStatusOut,
    UploadedOut,
    UploadOut,
)
from assistant.service import KnowledgeService
from assistant.settings import Settings
from assistant.uploads import Incoming, save_uploads
from ingest.store.manifest import Manifest

ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (409, 413, 415, 422)}


def manage_router(
    service: KnowledgeService,
    settings: Settings,
    feedback: FeedbackLog,
    job: IngestJob,
    dependencies: Sequence[Depends] = (),
) -> APIRouter:
    """All manage routes; `dependencies` (e.g. a role check) apply to every one of them."""
    router = APIRouter(prefix="/v1/manage", tags=["manage"], dependencies=list(dependencies), responses=ERRORS)

    def live_manifest() -> Manifest:
        manifest = service.store.current_manifest()
        if manifest is None:
            raise ApiError(409, "no_index", "Nothing has been ingested yet; run `assistant ingest FOLDER` first.")
        if not manifest.root:
            # Built by `assistant sync` alone: there is no folder to upload into or to re-read.
            raise ApiError(409, "no_folder", "This index holds configured sources only; sync them under Sources.")
        return manifest

    @router.get("/documents", response_model=DocumentsOut, summary="Documents in the live index")
    def documents() -> DocumentsOut:
        manifest = service.store.current_manifest()
        records = manifest.documents if manifest else {}
        return DocumentsOut(
            index_version=manifest.index_version if manifest else None,
            documents=[
                DocumentOut(
                    source=source,
                    title=record.title,
                    language=record.language,
                    chunks=record.chunks,
                    bytes=record.bytes,
                    indexed_at=record.indexed_at,
                    tags=record.tags,
                )
                for source, record in records.items()
            ],
        )

    @router.get("/failures", response_model=FailuresOut, summary="Files the last ingest could not read, and why")
    def failures() -> FailuresOut:
        manifest = service.store.current_manifest()
        return FailuresOut(
            index_version=manifest.index_version if manifest else None,
            failures=[FailureOut(**f.__dict__) for f in (manifest.failures if manifest else [])],
        )

    @router.post("/upload", status_code=201, response_model=UploadOut, summary="Add files to the ingested folder")
    def upload(files: Annotated[list[UploadFile], File(description="Documents to add or replace.")]) -> UploadOut:
        root = Path(live_manifest().root)
        incoming = [Incoming(f.filename or "", f.file) for f in files]
        # An UploadRejected is an AssistantError: the app answers it with its own status.
        saved = save_uploads(root, incoming, settings.max_file_bytes)
        return UploadOut(saved=[UploadedOut(source=s.source, bytes=s.bytes, replaced=s.replaced) for s in saved])

    @router.post("/ingest", status_code=202, response_model=IngestStatusOut, summary="Start a re-index")
    def start_ingest() -> IngestStatusOut:
        if not job.start(Path(live_manifest().root)):
            raise ApiError(409, "ingest_running", "A re-index is already running; wait for it to finish.")
        return ingest_status()

    @router.get("/ingest", response_model=IngestStatusOut, summary="Progress of the current or last re-index")
    def ingest_status() -> IngestStatusOut:
        return IngestStatusOut.model_validate(job.status().__dict__)

    @router.get("/gaps", response_model=GapsOut, summary="Questions the knowledge base failed, most frequent first")
    def gaps(limit: int = Query(50, ge=1, le=500, description="Most groups to return.")) -> GapsOut:
        return GapsOut(gaps=[GapOut(**g.__dict__) for g in feedback.content_gaps(limit)])

    return router
